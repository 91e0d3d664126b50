"""Encoding of log payloads into artifacts: PNG images, labeled image grids, GIF videos, histograms and PLY meshes.

Pure numpy (and Pillow for PNG); no jax. These run on the event bus's writer thread, never on a training step.
"""

import math
from pathlib import Path

import numpy as np

_PLY_FACE = np.dtype([("n", "u1"), ("v", "<i4", (3,))])


def to_uint8_image(image: np.ndarray) -> np.ndarray:
    """Converts an image to uint8 HW or HWC (C in 3, 4).

    Args:
        image: HW, HWC or CHW (C in 1, 3, 4); floats in [0, 1] (clipped) or uint8.

    Returns:
        A uint8 array of shape (H, W) or (H, W, C).
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3):
        raise ValueError(f"expected an HW or HWC image, got shape {array.shape}")
    if array.dtype != np.uint8:
        array = np.nan_to_num(array.astype(np.float32), nan=0.0)
        array = (np.clip(array, 0.0, 1.0) * 255).round().astype(np.uint8)
    return array


def image_grid(images: np.ndarray, ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tiles a batch of images into one image, row by row, with ``pad`` pixels of black between tiles.

    Args:
        images: NHW or NHWC (floats in [0, 1] or uint8).
        ncols: Tiles per row; ``ceil(sqrt(N))`` if omitted.
        pad: Pixels between tiles.

    Returns:
        A uint8 HW or HWC grid image.
    """
    tiles = [to_uint8_image(im) for im in np.asarray(images)]
    if not tiles:
        raise ValueError("image_grid needs at least one image")
    channels = max(t.shape[2] if t.ndim == 3 else 1 for t in tiles)
    if channels > 1:
        tiles = [np.repeat(t[..., None], channels, axis=-1) if t.ndim == 2 else t for t in tiles]
    h, w = tiles[0].shape[:2]
    cols = max(1, min(ncols or math.ceil(math.sqrt(len(tiles))), len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    shape = (rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad) + ((channels,) if channels > 1 else ())
    grid = np.zeros(shape, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        grid[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = tile
    return grid


def write_png(path: Path, image: np.ndarray) -> tuple[int, int]:
    """Writes an image as PNG; returns its (width, height)."""
    from PIL import Image

    array = to_uint8_image(image)
    Image.fromarray(array).save(path, compress_level=1)
    return int(array.shape[1]), int(array.shape[0])


LABEL_MIN_WIDTH = 64  # tiles narrower than this are scaled up (nearest) so that a label fits under them
LABEL_LINE_PX = 11  # Pillow's default bitmap font is 11 px high


def labeled(image: np.ndarray, label: str, lines: int | None = None) -> np.ndarray:
    """The image (scaled up by a whole factor to at least 64 px wide) above a black strip with ``label`` in white.

    Args:
        image: HW, HWC or CHW; floats in [0, 1] or uint8.
        label: The text; a newline starts a new line.
        lines: Height of the strip in lines (default: the label's), so that tiles of one grid match.

    Returns:
        A uint8 HWC (RGB) image.
    """
    from PIL import Image, ImageDraw

    array = to_uint8_image(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    array = array[..., :3]
    scale = max(1, math.ceil(LABEL_MIN_WIDTH / array.shape[1]))
    array = np.repeat(np.repeat(array, scale, axis=0), scale, axis=1)
    height = (lines or label.count("\n") + 1) * LABEL_LINE_PX + 4
    canvas = Image.new("RGB", (array.shape[1], array.shape[0] + height))
    canvas.paste(Image.fromarray(array), (0, 0))
    ImageDraw.Draw(canvas).multiline_text((2, array.shape[0] + 2), label, fill=(255, 255, 255), spacing=0)
    return np.asarray(canvas)


def labeled_grid(images: np.ndarray, labels: list[str], ncols: int | None = None) -> np.ndarray:
    """A grid of images, each with its label drawn under it (see :func:`labeled`).

    Raises:
        ValueError: As many labels as images are needed.
    """
    batch = np.asarray(images)
    if len(labels) != len(batch):
        raise ValueError(f"{len(batch)} images but {len(labels)} labels")
    lines = max(label.count("\n") + 1 for label in labels)
    return image_grid(np.stack([labeled(im, str(lb), lines) for im, lb in zip(batch, labels, strict=True)]), ncols)


def write_gif(path: Path, frames: np.ndarray, fps: float) -> tuple[int, int, int]:
    """Writes frames as an animated GIF (looping); returns (width, height, number of frames).

    Args:
        path: The file.
        frames: THW, THWC or TCHW; floats in [0, 1] or uint8.
        fps: Frames per second (GIF stores whole hundredths of a second per frame).

    Raises:
        ValueError: Not a sequence of images, or fps not positive.
    """
    from PIL import Image

    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    array = np.asarray(frames)
    if array.ndim not in (3, 4) or len(array) == 0:
        raise ValueError(f"expected frames of shape (T, H, W) or (T, H, W, C), got {array.shape}")
    images = [Image.fromarray(to_uint8_image(frame)) for frame in array]
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return images[0].width, images[0].height, len(images)


def histogram(values: np.ndarray, bins: int) -> tuple[list[float], list[int]] | None:
    """Histogram of the finite values of an array: (edges, counts), or None when none is finite."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return None
    counts, edges = np.histogram(flat, bins=bins)
    return edges.tolist(), counts.tolist()


def write_ply(
    path: Path, vertices: np.ndarray, faces: np.ndarray | None = None, colors: np.ndarray | None = None
) -> None:
    """Writes a triangle mesh or point cloud as binary little-endian PLY.

    Args:
        path: Output file.
        vertices: (V, 3) positions.
        faces: (F, 3) vertex indices of triangles, or None for a point cloud.
        colors: (V, 3) per-vertex RGB, uint8 or floats in [0, 1], or None.
    """
    verts = np.asarray(vertices, dtype=np.float32).reshape(-1, 3)
    tris = np.zeros((0, 3), np.int32) if faces is None else np.asarray(faces, dtype=np.int32).reshape(-1, 3)
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    records = np.zeros(len(verts), np.dtype(fields))
    records["x"], records["y"], records["z"] = verts.T
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(verts)}"]
    header += ["property float x", "property float y", "property float z"]
    if colors is not None:
        rgb = to_uint8_image(np.asarray(colors).reshape(-1, 1, 3)).reshape(-1, 3)
        records["red"], records["green"], records["blue"] = rgb.T
        header += ["property uchar red", "property uchar green", "property uchar blue"]
    header += [f"element face {len(tris)}", "property list uchar int vertex_indices", "end_header"]
    face_records = np.zeros(len(tris), _PLY_FACE)
    face_records["n"], face_records["v"] = 3, tris
    with open(path, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        f.write(records.tobytes())
        f.write(face_records.tobytes())


def read_ply(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Reads a PLY file written by :func:`write_ply`.

    Returns:
        (vertices float32 (V, 3), faces int32 (F, 3), colors uint8 (V, 3) or None).
    """
    data = Path(path).read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    counts = {line.split()[1]: int(line.split()[2]) for line in header if line.startswith("element ")}
    has_color = "property uchar red" in header
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")] + ([("r", "u1"), ("g", "u1"), ("b", "u1")] if has_color else [])
    vertex_dtype = np.dtype(fields)
    records = np.frombuffer(data, vertex_dtype, counts["vertex"], offset=end)
    faces = np.frombuffer(data, _PLY_FACE, counts["face"], offset=end + vertex_dtype.itemsize * counts["vertex"])
    vertices = np.stack([records["x"], records["y"], records["z"]], axis=-1)
    colors = np.stack([records["r"], records["g"], records["b"]], axis=-1) if has_color else None
    return vertices, faces["v"].astype(np.int32), colors
