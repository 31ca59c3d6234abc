"""Reports for sales and marketers: the funnel, top and unanswered questions, latency.

`recorder` writes what the reports count (best effort: a report never costs a visitor an
answer); `funnel`, `questions` and `latency` read it for one company and a window of days;
`charts` draws plain SVG and `export` writes CSV and the FAQ draft.
"""
