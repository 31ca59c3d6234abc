"""How the app meets the network: uvicorn workers under gunicorn, one event loop per worker.

`asgi.build_asgi` puts the Flask app (HTTP, through a2wsgi, bodies buffered first) and the native
WebSocket endpoints behind one ASGI callable; `guard` adds what uvicorn lacks against slow and
idle clients (header deadline and size, connections per address); `worker` is the gunicorn
worker that runs it. Why this model and not gthread or gevent: README, "Running in production".
"""
