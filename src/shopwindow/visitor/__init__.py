"""Who is asking: the request's facts and the signed visitor cookie."""
