"""The Realtime session the widget talks through: its GA configuration and client secrets."""
