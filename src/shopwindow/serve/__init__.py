"""HTTP: the way in, the request, the answer, the server and its metrics."""
