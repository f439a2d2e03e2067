"""Face Anonymizer Camera: a virtual webcam that hides every face (BlazeFace + OpenCV + pyvirtualcam)."""

__version__ = "0.1.0"
