"""The web process: the Falcon app (wiring only), its thin resources, the SSE stream."""
