#!/usr/bin/python3
"""Reference images for the image_classifier's preprocessing, made with Debian's torchvision.

photo.jpg: scikit-learn's china.jpg sample photo scaled to 1024x768, JPEG quality 90.
photo_torchvision.png: torchvision's Resize(256) + CenterCrop(224) of photo.jpg decoded by PIL,
the pixels ToTensor and Normalize then scale: the Go preprocessing must match it closely.
Run: /usr/bin/python3 pkg/handler/testdata/make_reference.py
"""
import os

from PIL import Image
from sklearn.datasets import load_sample_image
from torchvision import transforms

here = os.path.dirname(os.path.abspath(__file__))
img = Image.fromarray(load_sample_image("china.jpg")).resize((1024, 768), Image.BICUBIC)
img.save(os.path.join(here, "photo.jpg"), quality=90)
photo = Image.open(os.path.join(here, "photo.jpg")).convert("RGB")
ref = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])(photo)
ref.save(os.path.join(here, "photo_torchvision.png"))
