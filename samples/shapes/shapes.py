"""Generated images of shapes, shared by the segmentation and detection samples.

Each image is 64x64 RGB: a random, slightly noisy background with one to three shapes
(circles and squares) of random colours and sizes. draw() returns the image, a per-pixel
class mask (0 background, 1 circle, 2 square) and the shapes' boxes.
"""
import numpy as np

SIZE = 64
CLASSES = ["background", "circle", "square"]


def draw(rng, max_shapes=3):
    bg = rng.integers(0, 256, size=3)
    img = np.clip(bg[None, None, :] + rng.normal(0, 8, size=(SIZE, SIZE, 3)), 0, 255)
    mask = np.zeros((SIZE, SIZE), np.int64)
    boxes = []
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for _ in range(rng.integers(1, max_shapes + 1)):
        cls = int(rng.integers(1, 3))
        r = int(rng.integers(6, 14))
        cx, cy = int(rng.integers(r, SIZE - r)), int(rng.integers(r, SIZE - r))
        color = rng.integers(0, 256, size=3)
        while np.abs(color - bg).sum() < 150:  # keep shapes visible against the background
            color = rng.integers(0, 256, size=3)
        if cls == 1:
            inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        else:
            inside = (np.abs(xx - cx) <= r) & (np.abs(yy - cy) <= r)
        img[inside] = color
        mask[inside] = cls
        boxes.append((cx - r, cy - r, cx + r + 1, cy + r + 1, cls))
    return img.astype(np.uint8), mask, boxes
