"""Writes a CMYK JPEG the way Photoshop and Pillow do (Adobe marker, inverted channels) and OpenCV's RGB decoding
of it (cv2.imread, what semseg's data loader uses), as the reference for DinoSeg's decoder test.

pip install pillow opencv-python-headless numpy
python3 scripts/make_cmyk_jpeg_fixture.py Tests/DinoSegTests/Fixtures/cmyk
"""
import sys
import cv2
import numpy as np
from PIL import Image

out = sys.argv[1]
h, w = 16, 24
y, x = np.mgrid[0:h, 0:w]
cmyk = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (w + h - 2), (x * y) * 200 // ((w - 1) * (h - 1))],
                axis=-1).astype(np.uint8)
Image.fromarray(cmyk, "CMYK").save(f"{out}/cmyk.jpg", quality=95)
bgr = cv2.imread(f"{out}/cmyk.jpg", cv2.IMREAD_COLOR)
Image.fromarray(bgr[:, :, ::-1].copy(), "RGB").save(f"{out}/cmyk-reference-rgb.png")
print("reference RGB corners:", bgr[0, 0, ::-1], bgr[-1, -1, ::-1])
