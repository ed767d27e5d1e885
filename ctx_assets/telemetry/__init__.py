"""Tasks as spans, one module per concern: providers and exporters (providers.py), the OTLP/JSON-lines
file (otlp_json.py), a build's root span (build_trace.py), open questions as spans (questions.py),
counters to a Pushgateway (pushgateway.py), and `ctx trace`'s reading of it all (view.py). The
Dagster resource that traces each run is resources/tracing.py; every name is in contracts/semconv.py.
"""
