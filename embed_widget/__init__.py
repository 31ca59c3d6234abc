"""The embeddable front end (loader, widget page, styles, worklet), shipped as package data."""
