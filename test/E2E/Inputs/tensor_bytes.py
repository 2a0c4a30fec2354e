"""Prints the bytes of tensor data in a checkpoint folder's .safetensors files (each file's size less its
8-byte length and JSON header), what a model load reads in all."""
import glob
import os
import struct
import sys

total = 0
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.safetensors"))):
    with open(path, "rb") as f:
        (header,) = struct.unpack("<Q", f.read(8))
    total += os.path.getsize(path) - 8 - header
print(total)
