"""Transport: the aiobotocore client per event loop, what we plug into botocore (the request
serializer and response parser), and the translation of botocore's errors into ours.
Imports only ``_errors`` from the package."""
