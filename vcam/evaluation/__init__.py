"""`vcam eval`: the measures, the compared methods and the report."""
