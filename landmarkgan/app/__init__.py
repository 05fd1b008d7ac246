"""The web page: pick or upload a face, choose an expression, see the landmarks and the translated face."""
