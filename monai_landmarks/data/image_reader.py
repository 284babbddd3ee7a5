"""Reading 2D X-ray images in the package layout with SimpleITK, and saving heatmaps as NIfTI.

Layout
    A 2D image is returned as a spatial ``(W, H)`` array (axis 0 = x, the column), so ``LoadImage(...,
    ensure_channel_first=True)`` gives ``(1, W, H)`` as ``monai_landmarks.utils.coords`` requires. A 3D file
    with a single slice (a DICOM X-ray, a ``.mha`` written by Convert3D) is read as 2D.

Colour
    RGB and RGBA images become one gray channel by ITU-R BT.601 luma, ``0.299 R + 0.587 G + 0.114 B`` (alpha
    is dropped), rounded back to the source integer type; gray stored in identical channels is returned
    exactly. A two-component image (gray + alpha) keeps the gray. ``channels="keep"`` returns the channels
    instead, as ``(W, H, C)``.

Values
    Pixel values are never rescaled. 8-bit images stay ``uint8``; :class:`SITKReader` returns wider
    integers (16-bit X-rays, signed DICOM) as ``float32``, which holds them exactly up to 2**24.

Geometry
    ``affine`` is ``diag(spacing_x, spacing_y, 1)`` with the origin as translation. There is no LPS -> RAS
    flip (unlike MONAI's ITK and NRRD readers) and the direction cosines are not applied: a projection
    X-ray has no patient orientation here, and landmarks are pixel coordinates of the array as stored.
    ``spacing`` is whatever the file header says: 1.0 for a PNG without a ``pHYs`` chunk, a DPI-derived
    value for many JPEGs. For landmark datasets the datalist's ``spacing`` is the one to use.

DICOM
    The spacing comes from Pixel Spacing, else Imager Pixel Spacing, else Nominal Scanned Pixel Spacing (NaN when
    none is there; the tag used is ``meta["spacing_tag"]``); MONOCHROME1 images come inverted to look like
    MONOCHROME2 (GDCM does it); see :mod:`monai_landmarks.data.dicom`.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from monai.data import ImageReader
from monai.data.utils import is_supported_format
from monai.utils import ensure_tuple
from PIL import Image

from monai_landmarks.data.dicom import check_pixel_data, dicom_info, is_dicom
from monai_landmarks.utils.paths import display
from monai_landmarks.utils.spacing import Spacing

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "LUMA_WEIGHTS",
    "SUPPORTED_SUFFIXES",
    "ImageHeader",
    "ImageReadError",
    "SITKReader",
    "read_image",
    "read_image_header",
    "read_image_size",
    "rgb_to_gray",
    "save_heatmaps_nifti",
]

DEFAULT_MAX_PIXELS = 100_000_000
LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601, as PIL's convert("L")
SUPPORTED_SUFFIXES = ("png", "jpg", "jpeg", "bmp", "tif", "tiff", "mha", "mhd", "nii", "nii.gz", "nrrd", "nhdr", "dcm")
CHANNEL_MODES = ("gray", "keep")
# formats whose size PIL reads from the header alone, about 20x faster than SimpleITK's ImageIO set-up
_PIL_HEADER_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


class ImageReadError(RuntimeError):
    """An image file is missing, unreadable, truncated, corrupt, not 2D or too large."""


@dataclass(frozen=True)
class ImageHeader:
    """What an image header says, read without loading pixels."""

    path: str
    size: tuple[int, int]  #: (W, H)
    spacing: tuple[float, float]  #: mm per pixel along x, y as stored in the file
    origin: tuple[float, float]
    num_components: int
    pixel_type: str
    spacing_tag: str | None = None  #: the DICOM tag the spacing came from (None for other formats)
    photometric: str = ""  #: DICOM photometric interpretation ("" for other formats)

    @property
    def num_pixels(self) -> int:
        return self.size[0] * self.size[1]


def _first_line(error: Exception) -> str:
    """The useful part of a SimpleITK exception: its last non-empty line (the first ones are C++ locations)."""
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    return lines[-1] if lines else type(error).__name__


def _check_file(path: str) -> None:
    """A regular file whose name SimpleITK can take (it aborts the process on a name that is not UTF-8)."""
    if not os.path.isfile(path):
        if os.path.exists(path):
            raise ImageReadError(f"{display(path)}: not a regular file (a FIFO, socket, device or folder).")
        raise ImageReadError(f"{display(path)}: image file not found.")
    if not os.access(path, os.R_OK):  # else SimpleITK says "unable to determine ImageIO reader"
        raise ImageReadError(f"{display(path)}: permission denied; this user may not read the file.")
    if display(path) != path:
        raise ImageReadError(
            f"{display(path)}: the file name is not valid UTF-8 (bytes shown as \\x escapes), which SimpleITK "
            "cannot open; rename the file."
        )


def _open_reader(path) -> sitk.ImageFileReader:
    path = os.fspath(path)
    _check_file(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    try:
        reader.ReadImageInformation()
    except RuntimeError as e:
        raise ImageReadError(
            f"{path}: not a readable image (unknown format or corrupt header): {_first_line(e)}"
        ) from e
    return reader


def _header_from_reader(reader: sitk.ImageFileReader) -> ImageHeader:
    path, size = reader.GetFileName(), reader.GetSize()
    extra = size[2:]
    if len(size) < 2 or any(n != 1 for n in extra):
        raise ImageReadError(f"{path}: expected a 2D image (or 3D with one slice), got size {size}.")
    if 0 in size[:2]:
        raise ImageReadError(f"{path}: the image has no pixels (size {size[0]} x {size[1]}).")
    spacing, origin = reader.GetSpacing(), reader.GetOrigin()
    header = ImageHeader(
        path=path,
        size=(int(size[0]), int(size[1])),
        spacing=(float(spacing[0]), float(spacing[1])),
        origin=(float(origin[0]), float(origin[1])),
        num_components=int(reader.GetNumberOfComponents()),
        pixel_type=sitk.GetPixelIDValueAsString(reader.GetPixelID()),
    )
    return _with_dicom_tags(header, reader) if is_dicom(reader) else header


def _with_dicom_tags(header: ImageHeader, reader: sitk.ImageFileReader) -> ImageHeader:
    try:
        info = dicom_info(reader)
    except ValueError as e:
        raise ImageReadError(str(e)) from None
    return replace(header, spacing=info.spacing, spacing_tag=info.spacing_tag, photometric=info.photometric)


def read_image_header(path) -> ImageHeader:
    """Read size, spacing, origin and pixel type from the header of ``path`` (no pixel data).

    Raises:
        ImageReadError: missing file, unknown format, corrupt header, or more than one slice.
    """
    return _header_from_reader(_open_reader(path))


def read_image_size(path) -> tuple[int, int]:
    """``(W, H)`` of an image from its header; PNG, JPEG and BMP through PIL (cheap), others through SimpleITK.

    Raises:
        ImageReadError: missing file or unreadable header.
    """
    path = os.fspath(path)
    if path.lower().endswith(_PIL_HEADER_SUFFIXES):
        _check_file(path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path) as img:
                    return int(img.size[0]), int(img.size[1])
        except Image.DecompressionBombError as e:  # PIL refuses > 2 x its MAX_IMAGE_PIXELS from the header
            raise ImageReadError(f"{path}: image too large to read ({e}).") from e
        except (OSError, SyntaxError, ValueError) as e:
            raise ImageReadError(f"{path}: not a readable image (corrupt header): {e}") from e
    return read_image_header(path).size


def _check_pixels(header: ImageHeader, max_pixels: int | None) -> None:
    if max_pixels is None or header.num_pixels <= max_pixels:
        return
    w, h = header.size
    gib = header.num_pixels * max(header.num_components, 1) * 4 / 2**30
    raise ImageReadError(
        f"{header.path}: image of {w} x {h} = {header.num_pixels / 1e6:.1f} megapixels exceeds max_pixels="
        f"{max_pixels} ({max_pixels / 1e6:g} MP); as float32 it needs about {gib:.1f} GiB of memory per copy. "
        "Downsample it first or raise max_pixels if this is intended."
    )


def _check_bmp_complete(path: str) -> None:
    """SimpleITK decodes a BMP cut short without an error (the missing rows are garbage): compare the file size
    with the pixel data the header announces; compressed (RLE) BMPs are decoded by PIL, which checks."""
    with open(path, "rb") as f:
        head = f.read(34)
    if len(head) < 26 or head[:2] != b"BM":
        return  # SimpleITK read it, so it is some other layout; nothing to compare
    offset, dib = struct.unpack_from("<II", head, 10)
    if dib == 12:  # OS/2 BITMAPCOREHEADER
        width, height, _, bpp = struct.unpack_from("<HHHH", head, 18)
        compression = 0
    else:
        width, height, _, bpp, compression = struct.unpack_from("<iiHHI", head, 18)
    if compression in (0, 3, 6):  # BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS: rows of fixed size
        needed = offset + (abs(width) * bpp + 31) // 32 * 4 * abs(height)
        if os.path.getsize(path) < needed:
            raise ImageReadError(
                f"{path}: truncated BMP ({os.path.getsize(path)} bytes, the header announces {needed})."
            )
        return
    try:
        with Image.open(path) as img:
            img.load()
    except (OSError, ValueError) as e:
        raise ImageReadError(f"{path}: truncated or corrupt BMP: {e}") from e


def _nifti_layout(head: bytes) -> tuple[list[int], int, int] | None:
    """``(dims, bits per pixel, data offset)`` of a NIfTI-1 or NIfTI-2 header, None if it is not one."""
    for order in "<>":
        size = struct.unpack_from(f"{order}i", head, 0)[0]
        if size == 348 and len(head) >= 348:
            ndim, *dims = struct.unpack_from(f"{order}8h", head, 40)
            bitpix, offset = struct.unpack_from(f"{order}h", head, 72)[0], struct.unpack_from(f"{order}f", head, 108)[0]
        elif size == 540 and len(head) >= 540:
            ndim, *dims = struct.unpack_from(f"{order}8q", head, 16)
            bitpix, offset = struct.unpack_from(f"{order}h", head, 14)[0], struct.unpack_from(f"{order}q", head, 168)[0]
        else:
            continue
        return list(dims[: max(0, min(ndim, 7))]), int(bitpix), int(offset)
    return None


def _check_nifti_complete(path: str) -> None:
    """SimpleITK reads a NIfTI cut short without an error: compare the data length with the header's."""
    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            layout = _nifti_layout(f.read(540))
            if layout is None:
                return
            dims, bitpix, offset = layout
            needed = offset + math.prod(dims) * max(bitpix, 8) // 8
            f.seek(0, os.SEEK_END) if opener is open else _drain(f)
            length = f.tell()
    except (OSError, EOFError) as e:  # a gzip stream that ends early
        raise ImageReadError(f"{path}: truncated or corrupt NIfTI: {e}") from e
    if length < needed:
        raise ImageReadError(f"{path}: truncated NIfTI ({length} bytes of data, the header announces {needed}).")


def _drain(stream) -> None:
    while stream.read(1 << 20):
        pass


def _check_complete(path: str) -> None:
    """The format-specific checks for files that SimpleITK decodes without an error when cut short."""
    lower = path.lower()
    if lower.endswith((".jpg", ".jpeg")):
        _check_jpeg_complete(path)
    elif lower.endswith(".bmp"):
        _check_bmp_complete(path)
    elif lower.endswith((".nii", ".nii.gz")):
        _check_nifti_complete(path)


def _check_finite(array: np.ndarray, path: str) -> None:
    """NaN or infinite pixels make every heatmap NaN and every landmark null: refuse them here."""
    if np.issubdtype(array.dtype, np.floating):
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        if bad:
            raise ImageReadError(f"{path}: {bad} pixel(s) are NaN or infinite; the image cannot be used as it is.")


def _check_jpeg_complete(path: str) -> None:
    """libjpeg only warns on a truncated JPEG and fills the rest with gray; a complete one ends with FFD9."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 1024))
        tail = f.read().rstrip(b"\x00")
    if not tail.endswith(b"\xff\xd9"):
        raise ImageReadError(f"{path}: truncated JPEG (no end-of-image marker).")


def rgb_to_gray(array: np.ndarray) -> np.ndarray:
    """Channels-last colour ``(..., C)`` -> gray ``(...)`` by BT.601 luma (see the module docstring).

    Gray stored in identical channels is returned exactly; integer input is rounded back to its type.
    """
    array = np.asarray(array)
    c = array.shape[-1]
    if c in (1, 2):  # gray, gray + alpha
        return array[..., 0]
    if c not in (3, 4):
        raise ValueError(f"cannot convert {c} channels to gray; expected 1 to 4 (gray, gray+alpha, RGB, RGBA).")
    rgb = array[..., :3]
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 0] == rgb[..., 2]).all():
        return rgb[..., 0].copy()
    gray = rgb.astype(np.float32) @ np.asarray(LUMA_WEIGHTS, dtype=np.float32)
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        gray = np.clip(np.rint(gray), info.min, info.max).astype(array.dtype)
    return gray


def read_image(
    path, channels: str = "gray", max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> tuple[np.ndarray, ImageHeader]:
    """Load a 2D image as ``(W, H)`` (or ``(W, H, C)`` with ``channels="keep"``) in its own dtype.

    Args:
        path: image file (any format of :data:`SUPPORTED_SUFFIXES` that SimpleITK reads).
        channels: ``"gray"`` converts colour to gray (see :func:`rgb_to_gray`); ``"keep"`` keeps channels.
        max_pixels: refuse images with more pixels than this, checked on the header before reading pixels;
            None disables the check.

    Raises:
        ImageReadError: missing, unreadable, truncated or corrupt file, not 2D, or above ``max_pixels``.
        ValueError: unknown ``channels``.
    """
    if channels not in CHANNEL_MODES:
        raise ValueError(f"channels must be one of {CHANNEL_MODES}, got {channels!r}.")
    reader = _open_reader(path)
    header = _header_from_reader(reader)
    _check_pixels(header, max_pixels)
    try:
        image = reader.Execute()
    except RuntimeError as e:
        raise ImageReadError(f"{header.path}: cannot read pixel data (truncated or corrupt?): {_first_line(e)}") from e
    _check_complete(header.path)
    if is_dicom(reader):
        try:
            check_pixel_data(reader)
        except ValueError as e:
            raise ImageReadError(str(e)) from None
    w, h = header.size
    # numpy order is ([1, ...,] H, W[, C]); the header check left only singleton extra axes
    array = sitk.GetArrayFromImage(image).reshape(h, w, image.GetNumberOfComponentsPerPixel())
    _check_finite(array, header.path)
    if channels == "gray":
        try:
            array = rgb_to_gray(array)
        except ValueError as e:
            raise ImageReadError(f"{header.path}: {e} Use channels='keep'.") from e
        return np.ascontiguousarray(array.T), header
    return np.ascontiguousarray(array.transpose(1, 0, 2)), header


def _affine(header: ImageHeader) -> np.ndarray:
    # an unknown (NaN) DICOM spacing keeps a unit grid, as for a PNG; meta["spacing"] still says NaN
    spacing = [s if np.isfinite(s) else 1.0 for s in header.spacing]
    affine = np.diag([spacing[0], spacing[1], 1.0])
    affine[:2, 2] = header.origin
    return affine


@dataclass(frozen=True)
class _PendingImage:
    """What :meth:`SITKReader.read` returns: the file to load in ``get_data``."""

    path: str


class SITKReader(ImageReader):
    """MONAI image reader for 2D X-rays through SimpleITK, returning the package's ``(W, H)`` layout.

    Reads PNG, JPEG, BMP, TIFF, MetaImage (``.mha``/``.mhd``), NIfTI, NRRD and single-file DICOM with their
    physical spacing; see the module docstring for layout, colour, values and geometry.

    ``read`` only records the file names; the file is opened in ``get_data``. ``LoadImage`` catches any
    error raised by a user reader's ``read`` and silently tries its other readers, which would bypass the
    pixel limit and the layout; errors from ``get_data`` reach the caller with the file named.

    Args:
        channels: ``"gray"`` (default) converts colour to one gray channel; ``"keep"`` returns ``(W, H, C)``
            with ``original_channel_dim = -1``.
        max_pixels: refuse images larger than this many pixels (default 100 megapixels), checked on the
            header before pixels are read; None disables the check.

    Example::

        from monai.transforms import LoadImage, LoadImaged
        img = LoadImage(reader=SITKReader(), ensure_channel_first=True)("ceph.png")  # (1, W, H)
        load = LoadImaged(keys="image", reader="monai_landmarks.data.image_reader.SITKReader")
    """

    def __init__(self, channels: str = "gray", max_pixels: int | None = DEFAULT_MAX_PIXELS):
        super().__init__()
        if channels not in CHANNEL_MODES:
            raise ValueError(f"channels must be one of {CHANNEL_MODES}, got {channels!r}.")
        if max_pixels is not None and max_pixels < 1:
            raise ValueError(f"max_pixels must be a positive integer or None, got {max_pixels}.")
        self.channels = channels
        self.max_pixels = max_pixels

    def verify_suffix(self, filename: Sequence[os.PathLike] | os.PathLike) -> bool:
        """True if every file name ends with one of :data:`SUPPORTED_SUFFIXES`."""
        return is_supported_format(filename, SUPPORTED_SUFFIXES)

    def read(self, data: Sequence[os.PathLike] | os.PathLike, **kwargs):
        """Return a handle per file; loading happens in :meth:`get_data` (see the class docstring)."""
        handles = [_PendingImage(os.fspath(Path(name).expanduser())) for name in ensure_tuple(data)]
        return handles if len(handles) > 1 else handles[0]

    def get_data(self, img) -> tuple[np.ndarray, dict]:
        """Load the file(s) behind ``img``; several files are stacked as channels (same size and affine)."""
        arrays, metas = [], []
        for handle in ensure_tuple(img):
            array, header = read_image(handle.path, channels=self.channels, max_pixels=self.max_pixels)
            arrays.append(self._to_output_dtype(array))
            metas.append(self._meta(header, array))
        if len(arrays) == 1:
            return arrays[0], metas[0]
        return self._stack(arrays, metas)

    @staticmethod
    def _to_output_dtype(array: np.ndarray) -> np.ndarray:
        if array.dtype == np.uint8 or np.issubdtype(array.dtype, np.floating):
            return array
        return array.astype(np.float32)

    def _meta(self, header: ImageHeader, array: np.ndarray) -> dict:
        affine = _affine(header)
        return {
            "affine": affine,
            "original_affine": affine.copy(),
            "spacing": np.asarray(header.spacing, dtype=np.float64),
            "origin": np.asarray(header.origin, dtype=np.float64),
            "spatial_shape": np.asarray(header.size, dtype=np.int64),
            "original_channel_dim": -1 if array.ndim == 3 else float("nan"),
            "filename_or_obj": header.path,
            **({"spacing_tag": header.spacing_tag} if header.spacing_tag else {}),
        }

    def _stack(self, arrays: list[np.ndarray], metas: list[dict]) -> tuple[np.ndarray, dict]:
        first = metas[0]
        for meta in metas[1:]:
            if not np.array_equal(meta["spatial_shape"], first["spatial_shape"]):
                raise ImageReadError(
                    f"cannot stack {meta['filename_or_obj']} (size {tuple(meta['spatial_shape'])}) with "
                    f"{first['filename_or_obj']} (size {tuple(first['spatial_shape'])}) as channels."
                )
            if not np.allclose(meta["affine"], first["affine"]):
                raise ImageReadError(
                    f"cannot stack {meta['filename_or_obj']} with {first['filename_or_obj']}: spacing or origin differ."
                )
        meta = dict(first)
        if arrays[0].ndim == 3:  # channels kept: concatenate them, still channels-last
            return np.concatenate(arrays, axis=-1), meta
        meta["original_channel_dim"] = 0
        return np.stack(arrays, axis=0), meta


def save_heatmaps_nifti(heatmaps, path, spacing=None) -> Path:
    """Save ``(K, W, H)`` heatmaps as a NIfTI volume ``(W, H, K)``: landmark ``k`` is slice ``k``.

    Viewers then show one landmark per slice over the image grid. Read back with
    ``np.moveaxis(nibabel.load(path).get_fdata(), -1, 0)``.

    Args:
        heatmaps: array or tensor ``(K, W, H)``.
        path: output file ending in ``.nii`` or ``.nii.gz``.
        spacing: mm per pixel, a scalar or ``(sx, sy)``; None or NaN stores 1.0 (unknown).

    Raises:
        ValueError: wrong shape, suffix or spacing.
    """
    import nibabel as nib

    path = Path(path)
    if not path.name.endswith((".nii", ".nii.gz")):
        raise ValueError(f"{path}: a NIfTI file name must end with .nii or .nii.gz.")
    data = heatmaps.detach().cpu().numpy() if hasattr(heatmaps, "detach") else np.asarray(heatmaps)
    if data.ndim != 3:
        raise ValueError(f"heatmaps must have shape (K, W, H), got {tuple(data.shape)}.")
    known = Spacing.known(spacing, "spacing", where=str(path))  # None or NaN: unknown, stored as 1.0
    sx, sy = (1.0, 1.0) if known is None else (known.x, known.y)
    nifti = nib.Nifti1Image(np.moveaxis(data.astype(np.float32), 0, -1), np.diag([sx, sy, 1.0, 1.0]))
    nifti.header.set_xyzt_units("mm")
    nib.save(nifti, str(path))
    return path
