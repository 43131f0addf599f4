#!/usr/bin/env python3
"""Make the parity fixtures of cliplib/preprocess (run from the repo root).

    /root/refenv/bin/python tools/reference/make_preprocess_fixtures.py

Runs the reference CLIP preprocessing (torchvision 0.29 transforms on Pillow 13 images) on every
photo in ../shared/data/clip_test_images and on generated edge cases, and writes into
testdata/preprocess/:

  inputs/<name>.<ext>   the generated input files (small; the photos are read from ../shared)
  ref/<name>.png        the reference uint8 RGB crop, i.e. the PIL image ToTensor() receives
  float_<name>.f32      full normalised tensors (little-endian float32, CHW) for two cases
  manifest.json         one entry per case: input, size, filter, crop rounding, Pillow mode, ...

Reference transforms:
  * OpenAI CLIP `_transform(n_px)`: Resize(n_px, BICUBIC), CenterCrop(n_px),
    convert("RGB"), ToTensor(), Normalize(OpenAI mean/std) -- rebuilt here from torchvision classes
    exactly as clip/clip.py builds it.
  * MobileCLIP: open_clip.transform.image_transform(n_px, is_train=False, mean=0, std=1,
    interpolation="bilinear", resize_mode="shortest") -- the open_clip eval transform.
  * "floor" crop rounding: the same resize, then a crop at ((H-N)//2, (W-N)//2) (HuggingFace's
    center_crop offsets) and convert("RGB").

For every case the script checks that Normalize(ToTensor(crop)) equals the full transform's
output bit for bit, so the stored crop is exactly the tensor's source. It installs nothing and
only needs the reference environment.
"""

import io
import json
import os
import struct
import sys
import warnings
import zlib

import numpy as np
import open_clip
import PIL
import PIL.features
import torch
import torchvision
from PIL import Image
from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Normalize, Resize, ToTensor

# Pillow warns when converting a "P" image whose transparency is a byte string; the reference
# pipeline does exactly that (convert("RGB") ignores it), so the warning is expected here.
warnings.filterwarnings("ignore", message="Palette images with Transparency")

ROOT = os.getcwd()
# The shared data lives beside the repository (../shared); CLIPKIT_SHARED overrides it (e.g. for a
# git worktree that sits elsewhere).
SHARED = os.environ.get("CLIPKIT_SHARED") or os.path.join(ROOT, "..", "shared")
PHOTOS = os.path.join(SHARED, "data", "clip_test_images")
OUT = os.path.join(ROOT, "testdata", "preprocess")
INPUTS = os.path.join(OUT, "inputs")
REFS = os.path.join(OUT, "ref")

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def openai_transform(n_px):
    """clip/clip.py `_transform(n_px)`."""
    return Compose([
        Resize(n_px, interpolation=InterpolationMode.BICUBIC),
        CenterCrop(n_px),
        lambda image: image.convert("RGB"),
        ToTensor(),
        Normalize(OPENAI_MEAN, OPENAI_STD),
    ])


def mobileclip_transform(n_px):
    return open_clip.transform.image_transform(
        n_px, is_train=False, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
        interpolation="bilinear", resize_mode="shortest")


class FloorCrop:
    """CenterCrop with HuggingFace's floor offsets."""

    def __init__(self, n):
        self.n = n

    def __call__(self, im):
        w, h = im.size
        top, left = (h - self.n) // 2, (w - self.n) // 2
        return im.crop((left, top, left + self.n, top + self.n))


def floor_transform(n_px):
    return Compose([
        Resize(n_px, interpolation=InterpolationMode.BICUBIC),
        FloorCrop(n_px),
        lambda image: image.convert("RGB"),
        ToTensor(),
        Normalize(OPENAI_MEAN, OPENAI_STD),
    ])


def run_reference(path, size, interp, crop):
    """Returns (uint8 crop HxWx3, float tensor CHW, pil mode) and checks they agree."""
    if interp == "bicubic" and crop == "torchvision":
        t = openai_transform(size)
    elif interp == "bilinear" and crop == "torchvision":
        t = mobileclip_transform(size)
    elif interp == "bicubic" and crop == "floor":
        t = floor_transform(size)
    else:
        raise ValueError((interp, crop))
    steps = t.transforms
    # The last two steps are ToTensor and Normalize; everything before yields the RGB crop.
    assert isinstance(steps[-2], ToTensor) and isinstance(steps[-1], Normalize), steps
    with Image.open(path) as im:
        mode = im.mode
        full = t(im)
    with Image.open(path) as im:
        crop_im = Compose(steps[:-2])(im)
    assert crop_im.mode == "RGB" and crop_im.size == (size, size), (crop_im.mode, crop_im.size)
    again = steps[-1](steps[-2](crop_im))
    assert torch.equal(again, full), path
    return np.asarray(crop_im), full.numpy(), mode


# ----------------------------------------------------------------------------------------------
# Writing PNGs by hand: Pillow cannot write 16-bit RGB/RGBA/LA, 2/4-bit gray, or tRNS on gray/RGB.

def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path, pixels, depth, color_type, plte=None, trns=None):
    """pixels: uint8/uint16 array HxW or HxWxC of sample values (sub-byte depths are packed)."""
    h, w = pixels.shape[:2]
    if depth < 8:
        per = 8 // depth
        rows = []
        for r in pixels.reshape(h, w):
            padded = np.zeros(((w + per - 1) // per) * per, np.uint8)
            padded[:w] = r
            g = padded.reshape(-1, per).astype(np.uint16)
            b = np.zeros(len(g), np.uint16)
            for i in range(per):
                b |= g[:, i] << (8 - depth * (i + 1))
            rows.append(b.astype(np.uint8).tobytes())
    elif depth == 16:
        rows = [r.astype(">u2").tobytes() for r in pixels.reshape(h, -1)]
    else:
        rows = [r.astype(np.uint8).tobytes() for r in pixels.reshape(h, -1)]
    raw = b"".join(b"\x00" + r for r in rows)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0))
    if plte is not None:
        data += _chunk(b"PLTE", bytes(plte))
    if trns is not None:
        data += _chunk(b"tRNS", trns)
    data += _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


# ----------------------------------------------------------------------------------------------
# Content for generated inputs: the shared photos, reduced and enlarged again with NEAREST in
# blocks of `block` pixels. Blocks keep the files (and the reference crops) small and put sharp
# edges everywhere, which exercises the resampler's negative lobes and uint8 clipping. Lossy
# formats get detailed content (block=1) so that decoder differences show.

def photo(name, w, h, mode="RGB", block=4):
    with Image.open(os.path.join(PHOTOS, name)) as im:
        im = im.convert("RGB")
        side = min(im.size)
        small = (max(1, -(-w // block)), max(1, -(-h // block)))
        im = im.crop((0, 0, side, side)).resize(small, Image.Resampling.BOX)
        if small != (w, h):
            im = im.resize((small[0] * block, small[1] * block), Image.Resampling.NEAREST).crop((0, 0, w, h))
        return im.convert(mode)


def gif_set_screen(data, screen_w, screen_h, left, top):
    """Enlarge a single-frame GIF's logical screen and move its first frame to (left, top)."""
    b = bytearray(data)
    b[6:10] = struct.pack("<HH", screen_w, screen_h)
    p = 13
    if b[10] & 0x80:
        p += 3 << ((b[10] & 7) + 1)
    while b[p] == 0x21:
        p += 2
        while b[p]:
            p += b[p] + 1
        p += 1
    assert b[p] == 0x2C
    b[p + 1:p + 5] = struct.pack("<HH", left, top)
    return bytes(b)


def make_inputs():
    """Writes the generated inputs; returns [(name, filename, note)]."""
    os.makedirs(INPUTS, exist_ok=True)
    rng = np.random.default_rng(20240531)
    made = []

    def save(name, ext, note, im=None, **kw):
        fn = f"{name}.{ext}"
        if im is not None:
            im.save(os.path.join(INPUTS, fn), **kw)
        made.append((name, fn, note))
        return os.path.join(INPUTS, fn)

    # Geometry edge cases (RGB PNG).
    save("tiny_1x1", "png", "1x1 upsampled to the full crop", photo("astronaut.png", 1, 1))
    save("tiny_3x2", "png", "3x2 upsampled", photo("coffee.png", 3, 2))
    save("wide_1000x10", "png", "very wide: resized to 22400x224, crop from the middle", photo("coffee.png", 1000, 10))
    save("tall_10x1000", "png", "very tall", photo("chelsea.png", 10, 1000))
    save("exact_224x224", "png", "already 224x224: no resize, no crop", photo("astronaut.png", 224, 224))
    save("short224_224x301", "png", "short side already 224: crop only, offset 38.5 -> 38", photo("rocket.jpg", 224, 301))
    save("short224_303x224", "png", "short side already 224: crop only, offset 39.5 -> 40", photo("rocket.jpg", 303, 224))
    save("odd_offset_300x259", "png", "resized 259x224: crop offset 17.5 (round-half-even 18, floor 17)", photo("coffee.png", 300, 259))
    save("odd_offset_230x200", "png", "resized 224x257: crop offset 16.5 (round-half-even 16)", photo("chelsea.png", 200, 230))
    save("upscale_50x37", "png", "upsampling path", photo("chelsea.png", 50, 37))
    save("downscale_640x480", "png", "plain downsampling", photo("motorcycle_left.png", 640, 480))

    # Pillow modes from PNG.
    base = photo("chelsea.png", 150, 100)
    p = base.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    save("p_300x200", "png", "paletted P: NEAREST resize", p.resize((300, 200), Image.Resampling.NEAREST))
    save("p_trns_300x200", "png", "paletted P with tRNS: convert(RGB) ignores transparency",
         p.resize((300, 200), Image.Resampling.NEAREST), transparency=bytes(range(0, 256, 4)))
    idx = np.asarray(photo("coffee.png", 60, 45, "L")) // 16  # 16 levels
    write_png(os.path.join(INPUTS, "p_short_plte.png"), idx, 8, 3, plte=[0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    made.append(("p_short_plte", "p_short_plte.png", "P with a 4-entry PLTE and indices up to 15"))
    p4 = np.asarray(photo("coffee.png", 61, 45, "L")) // 16
    write_png(os.path.join(INPUTS, "p_4bit.png"), p4, 4, 3, plte=list(rng.integers(0, 256, 48, dtype=np.uint8)))
    made.append(("p_4bit", "p_4bit.png", "4-bit paletted PNG"))
    gray = photo("camera.png", 301, 257, "L")
    save("l_301x257", "png", "grayscale L", gray)
    g = np.asarray(photo("camera.png", 90, 70, "L"))
    write_png(os.path.join(INPUTS, "l_1bit.png"), (g >= 128).astype(np.uint8), 1, 0)
    made.append(("l_1bit", "l_1bit.png", "1-bit gray PNG: Pillow mode 1, NEAREST resize"))
    write_png(os.path.join(INPUTS, "l_2bit.png"), g >> 6, 2, 0)
    made.append(("l_2bit", "l_2bit.png", "2-bit gray PNG (scaled to 0..255)"))
    write_png(os.path.join(INPUTS, "l_4bit.png"), g >> 4, 4, 0)
    made.append(("l_4bit", "l_4bit.png", "4-bit gray PNG"))
    write_png(os.path.join(INPUTS, "l_trns.png"), g, 8, 0, trns=struct.pack(">H", int(g[10, 10])))
    made.append(("l_trns", "l_trns.png", "gray PNG with tRNS: Pillow keeps L (Go expands to NRGBA)"))
    c = np.asarray(photo("coffee.png", 90, 70))
    write_png(os.path.join(INPUTS, "rgb_trns.png"), c, 8, 2, trns=struct.pack(">HHH", *[int(v) for v in c[5, 5]]))
    made.append(("rgb_trns", "rgb_trns.png", "RGB PNG with tRNS: Pillow keeps RGB"))
    g16 = (np.asarray(photo("moon.png", 120, 80, "L")).astype(np.uint32) * 257).astype(np.uint16)
    write_png(os.path.join(INPUTS, "i16_full.png"), g16, 16, 0)
    made.append(("i16_full", "i16_full.png", "16-bit gray, full range: I;16, convert(RGB) clips to 255"))
    g16low = (np.asarray(photo("moon.png", 120, 80, "L")).astype(np.uint16) * 2)
    write_png(os.path.join(INPUTS, "i16_low.png"), g16low, 16, 0)
    made.append(("i16_low", "i16_low.png", "16-bit gray with values 0..510: partly clipped"))
    rgb16 = np.asarray(photo("astronaut.png", 130, 90)).astype(np.uint16) * 257 + rng.integers(0, 257, (90, 130, 3)).astype(np.uint16)
    write_png(os.path.join(INPUTS, "rgb16.png"), rgb16, 16, 2)
    made.append(("rgb16", "rgb16.png", "16-bit RGB PNG: Pillow keeps the high bytes"))
    a = np.asarray(photo("coffee.png", 130, 90, "L"))
    rgba16 = np.dstack([rgb16, (a.astype(np.uint16) * 257)])
    write_png(os.path.join(INPUTS, "rgba16.png"), rgba16, 16, 6)
    made.append(("rgba16", "rgba16.png", "16-bit RGBA PNG"))
    la = Image.merge("LA", [photo("camera.png", 160, 120, "L"), photo("coffee.png", 160, 120, "L")])
    save("la_160x120", "png", "LA: resized premultiplied (La)", la)
    la16 = np.dstack([np.asarray(la)[..., 0].astype(np.uint16) * 257, np.asarray(la)[..., 1].astype(np.uint16) * 257 + 100])
    write_png(os.path.join(INPUTS, "la16.png"), la16, 16, 4)
    made.append(("la16", "la16.png", "16-bit LA PNG"))
    rgba = np.dstack([np.asarray(photo("astronaut.png", 320, 240)), np.asarray(photo("coins.png", 320, 240, "L"))])
    rgba[:40, :60, 3] = 0  # fully transparent block whose colour must not leak (premultiplied)
    rgba[40:80, :60, 3] = 255
    save("rgba_320x240", "png", "RGBA with alpha 0..255: premultiplied resize, alpha dropped", Image.fromarray(rgba, "RGBA"))
    save("rgba_224x260", "png", "RGBA, short side 224: no resize so no premultiplication",
         Image.fromarray(np.dstack([np.asarray(photo("coffee.png", 224, 260)), np.asarray(photo("coins.png", 224, 260, "L"))]), "RGBA"))

    # JPEG.
    save("jpeg_444", "jpg", "baseline JPEG, no chroma subsampling", photo("astronaut.png", 320, 256, block=1), quality=90, subsampling=0)
    save("jpeg_420", "jpg", "baseline JPEG, 4:2:0", photo("astronaut.png", 320, 256, block=1), quality=90, subsampling=2)
    save("jpeg_gray", "jpg", "grayscale JPEG", photo("camera.png", 300, 240, "L", block=1), quality=90)
    save("jpeg_progressive", "jpg", "progressive JPEG 4:2:0", photo("coffee.png", 300, 240, block=1), quality=85, progressive=True)
    cmyk = Image.merge("CMYK", [photo("coffee.png", 240, 180, "L", 1), photo("chelsea.png", 240, 180, "L", 1),
                                 photo("astronaut.png", 240, 180, "L", 1), photo("coins.png", 240, 180, "L", 1).point(lambda v: v // 3)])
    save("jpeg_cmyk", "jpg", "CMYK JPEG with Adobe marker (inverted)", cmyk, quality=95)

    # GIF.
    frames = [photo("chelsea.png", 200, 150).quantize(colors=32)] + [photo(n, 200, 150).quantize(colors=32) for n in ("coffee.png", "rocket.jpg")]
    save("gif_anim", "gif", "animated GIF: first frame, mode P", frames[0], save_all=True, append_images=frames[1:], duration=100, loop=0)
    save("gif_gray", "gif", "GIF whose palette is the gray ramp: Pillow mode L, bicubic", photo("camera.png", 180, 140, "L"), optimize=False)
    buf = io.BytesIO()
    photo("coffee.png", 120, 90).quantize(colors=16).save(buf, "GIF", transparency=3)
    with open(os.path.join(INPUTS, "gif_offset.gif"), "wb") as f:
        f.write(gif_set_screen(buf.getvalue(), 150, 110, 17, 9))
    made.append(("gif_offset", "gif_offset.gif", "frame 120x90 at (17,9) on a 150x110 screen, transparency index 3 fills the rest"))

    # WebP.
    if PIL.features.check("webp"):
        save("webp_lossless", "webp", "lossless WebP (RGB)", photo("coffee.png", 200, 150), lossless=True)
        save("webp_lossless_rgba", "webp", "lossless WebP with alpha",
             Image.fromarray(np.dstack([np.asarray(photo("coffee.png", 200, 150)), np.asarray(photo("coins.png", 200, 150, "L"))]), "RGBA"), lossless=True)
        save("webp_lossy", "webp", "lossy WebP (YUV 4:2:0)", photo("astronaut.png", 260, 200, block=1), quality=90)

    # BMP.
    save("bmp_rgb", "bmp", "24-bit BMP", photo("rocket.jpg", 100, 80))
    save("bmp_rgba", "bmp", "32-bit BMP (BI_RGB): Pillow ignores the 4th byte", Image.fromarray(np.dstack([np.asarray(photo("rocket.jpg", 90, 70)), np.asarray(photo("coins.png", 90, 70, "L"))]), "RGBA"))
    save("bmp_p", "bmp", "8-bit paletted BMP", photo("chelsea.png", 100, 80).quantize(colors=64))
    save("bmp_l", "bmp", "8-bit gray-ramp BMP: Pillow mode L", photo("camera.png", 100, 80, "L"))
    save("bmp_1", "bmp", "1-bit BMP: Pillow mode 1", photo("camera.png", 100, 80, "L").point(lambda v: 255 if v >= 128 else 0).convert("1"))

    # TIFF.
    save("tiff_rgb", "tif", "RGB TIFF", photo("coffee.png", 100, 80))
    save("tiff_l", "tif", "gray TIFF", photo("camera.png", 100, 80, "L"))
    save("tiff_p", "tif", "paletted TIFF", photo("chelsea.png", 100, 80).quantize(colors=32))
    save("tiff_1", "tif", "bilevel TIFF: Pillow mode 1", photo("camera.png", 100, 80, "L").convert("1"))
    save("tiff_rgba", "tif", "RGBA TIFF (unassociated alpha)", Image.fromarray(np.dstack([np.asarray(photo("coffee.png", 100, 80)), np.asarray(photo("coins.png", 100, 80, "L"))]), "RGBA"))
    save("tiff_cmyk", "tif", "CMYK TIFF", cmyk.resize((100, 80), Image.Resampling.BOX))
    save("tiff_i16", "tif", "16-bit gray TIFF", Image.fromarray((np.asarray(photo("moon.png", 100, 80, "L")).astype(np.uint16) * 3)))
    return made


def main():
    if not os.path.isdir(PHOTOS):
        sys.exit(f"{PHOTOS} not found: run from the repository root or set CLIPKIT_SHARED")
    os.makedirs(REFS, exist_ok=True)
    generated = make_inputs()
    cases = []

    def add(name, path, size, interp="bicubic", crop="torchvision", note=""):
        img, full, mode = run_reference(path, size, interp, crop)
        ref = Image.fromarray(img, "RGB")
        if (img[..., 0] == img[..., 1]).all() and (img[..., 0] == img[..., 2]).all():
            ref = ref.convert("L")  # gray crops are stored as 8-bit gray PNGs (R = G = B)
        ref.save(os.path.join(REFS, name + ".png"), optimize=True)
        with Image.open(path) as im:
            fmt = im.format.lower()
        # Inputs are recorded relative to the repository root; photos as ../shared/... whatever
        # CLIPKIT_SHARED says, generated inputs as testdata/preprocess/inputs/...
        if os.path.abspath(path).startswith(os.path.abspath(SHARED) + os.sep):
            rel = "../shared/" + os.path.relpath(path, SHARED)
        else:
            rel = os.path.relpath(path, ROOT)
        # exact_decode: whether the Go side is expected to decode the file to Pillow's pixels bit
        # for bit. True for the lossless formats and for lossy WebP (VP8 decoding is exact by
        # spec; cliplib/preprocess reproduces libwebp's upsampling); false for JPEG, whose IDCT
        # differs between Go and libjpeg-turbo.
        cases.append({"name": name, "input": rel, "format": fmt, "pil_mode": mode, "size": size,
                      "exact_decode": fmt != "jpeg",
                      "interpolation": interp, "crop": crop, "ref": f"ref/{name}.png", "note": note})
        return full

    for fn in sorted(os.listdir(PHOTOS)):
        if fn.lower().endswith((".png", ".jpg", ".jpeg")):
            full = add("photo_" + os.path.splitext(fn)[0], os.path.join(PHOTOS, fn), 224, note="shared sample photo")
            if fn == "chelsea.png":
                chelsea224 = full
    for name, fn, note in generated:
        add(name, os.path.join(INPUTS, fn), 224, note=note)

    # MobileCLIP (bilinear, no normalisation) at 256, and 224 for MobileCLIP-B.
    for fn in ("astronaut.png", "rocket.jpg", "horse.png", "text.png"):
        add("mc256_" + os.path.splitext(fn)[0], os.path.join(PHOTOS, fn), 256, "bilinear", note="MobileCLIP 256 bilinear")
    for name in ("p_300x200", "la_160x120", "rgba_320x240", "i16_low", "odd_offset_300x259", "tiny_3x2"):
        fn = dict((n, f) for n, f, _ in generated)[name]
        add("mc256_" + name, os.path.join(INPUTS, fn), 256, "bilinear", note="MobileCLIP 256 bilinear")
    add("mc224_coffee", os.path.join(PHOTOS, "coffee.png"), 224, "bilinear", note="MobileCLIP-B 224 bilinear")

    # ViT-L/14@336.
    for fn in ("astronaut.png", "page.png"):
        add("l336_" + os.path.splitext(fn)[0], os.path.join(PHOTOS, fn), 336, note="ViT-L/14@336 bicubic")
    add("l336_upscale_50x37", os.path.join(INPUTS, "upscale_50x37.png"), 336, note="ViT-L/14@336 bicubic")

    # HuggingFace-style floor crop offsets (same resize and order as OpenAI).
    add("floor_odd_offset_300x259", os.path.join(INPUTS, "odd_offset_300x259.png"), 224, crop="floor",
        note="floor crop offset 17 instead of 18")
    add("floor_short224_303x224", os.path.join(INPUTS, "short224_303x224.png"), 224, crop="floor",
        note="floor crop offset 39 instead of 40")

    # Float fixtures: the normalised tensor of chelsea at 224, stored for a 64x64 centre window of
    # each channel (3x64x64 floats), and a 16x16 image holding every byte value in each channel.
    win = chelsea224[:, 80:144, 80:144].astype("<f4")
    win.tofile(os.path.join(OUT, "float_chelsea224_window.f32"))
    ramp = np.zeros((16, 16, 3), np.uint8)
    v = np.arange(256, dtype=np.uint8).reshape(16, 16)
    ramp[..., 0], ramp[..., 1], ramp[..., 2] = v, v.T, 255 - v
    Image.fromarray(ramp, "RGB").save(os.path.join(INPUTS, "ramp_16x16.png"))
    full = add("ramp_16x16", os.path.join(INPUTS, "ramp_16x16.png"), 16, note="every byte value in every channel")
    full.astype("<f4").tofile(os.path.join(OUT, "float_ramp_16x16.f32"))

    manifest = {
        "generator": "tools/reference/make_preprocess_fixtures.py",
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                     "pillow": PIL.__version__, "open_clip": open_clip.__version__, "numpy": np.__version__},
        "openai_mean": OPENAI_MEAN, "openai_std": OPENAI_STD,
        "floats": [
            {"file": "float_chelsea224_window.f32", "case": "photo_chelsea", "shape": [3, 64, 64],
             "window": {"y0": 80, "x0": 80}, "note": "OpenAI _transform(224) output, rows/cols 80..143"},
            {"file": "float_ramp_16x16.f32", "case": "ramp_16x16", "shape": [3, 16, 16], "window": {"y0": 0, "x0": 0},
             "note": "OpenAI _transform(16) output"},
        ],
        "cases": cases,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
