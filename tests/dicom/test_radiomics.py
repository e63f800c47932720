"""sonobridge.dicom.radiomics against the IBSI digital phantom's published reference values.

pyradiomics does not install on Python 3.11 (its sdist fails to build: no wheel, build needs
versioneer/numpy at metadata time), so the features are computed by our NumPy/SciPy engine and
checked here against the reference values of the Image Biomarker Standardisation Initiative:

* the phantom: IBSI reference manual (Zwanenburg et al., arXiv:1612.07003), section "Reference
  data sets / Digital phantom", figure ``testVolumev3.png`` (github.com/theibsi/ibsi-doc,
  docs/Figures; data at github.com/theibsi/data_sets, ibsi_1_digital_phantom), CC-BY 4.0:
  5 x 4 x 4 (x, y, z) voxels of 2 mm, grey levels 1, 3, 4, 6 (and one excluded 9), 6 voxels
  outside the ROI, used without discretisation (fixed bin width 1);
* the values: the "dig. phantom" rows of the feature tables of the same manual
  (github.com/theibsi/ibsi-doc, docs/03_Image_features.rst), "3D, averaged" for GLCM / GLRLM.
  Morphology values carry the manual's tolerance; the others are given to 3 significant digits.
"""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest

from sonobridge.dicom import radiomics as rad
from sonobridge.errors import MissingDependencyError, SonobridgeError

from support import DICOM

pytest.importorskip("skimage")

# (z, y, x): slice z = 0 first, row y = 0 at the back of the figure
PHANTOM = np.array([
    [[1, 4, 4, 1, 1], [1, 4, 6, 1, 1], [4, 1, 6, 4, 1], [4, 4, 6, 4, 1]],
    [[1, 4, 4, 1, 1], [1, 1, 6, 1, 1], [1, 1, 3, 1, 1], [4, 4, 6, 1, 1]],
    [[1, 4, 4, 1, 1], [1, 1, 1, 1, 1], [1, 1, 9, 1, 1], [1, 1, 6, 1, 1]],
    [[1, 4, 4, 1, 1], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 6, 1, 1]]], dtype=float)
PHANTOM_MASK = np.ones(PHANTOM.shape, bool)
for z, y, x in [(1, 2, 0), (2, 0, 3), (2, 0, 4), (2, 2, 2), (3, 0, 3), (3, 0, 4)]:
    PHANTOM_MASK[z, y, x] = False
SPACING = (2.0, 2.0, 2.0)

#: our key -> (IBSI reference value, tolerance or None = 3 significant digits)
IBSI_REFERENCE = {
    # morphology
    "shape_MeshVolume": (556, 4), "shape_VoxelVolume": (592, 4), "shape_SurfaceArea": (388, 3),
    "shape_SurfaceVolumeRatio": (0.698, 0.004), "shape_Compactness1": (0.0411, 0.0003),
    "shape_Compactness2": (0.599, 0.004), "shape_SphericalDisproportion": (1.19, 0.01),
    "shape_Sphericity": (0.843, 0.005), "shape_Maximum3DDiameter": (13.1, 0.1),
    "shape_MajorAxisLength": (11.4, 0.1), "shape_MinorAxisLength": (9.31, 0.06),
    "shape_LeastAxisLength": (8.54, 0.05), "shape_Elongation": (0.816, 0.005), "shape_Flatness": (0.749, 0.005),
    # intensity-based statistics / intensity histogram
    "firstorder_Mean": (2.15, None), "firstorder_Variance": (3.05, None), "firstorder_Skewness": (1.08, None),
    "firstorder_Kurtosis": (-0.355 + 3, None),          # pyradiomics' kurtosis = IBSI excess kurtosis + 3
    "firstorder_Median": (1, None), "firstorder_Minimum": (1, None), "firstorder_10Percentile": (1, None),
    "firstorder_90Percentile": (4, None), "firstorder_Maximum": (6, None),
    "firstorder_InterquartileRange": (3, None), "firstorder_Range": (5, None),
    "firstorder_MeanAbsoluteDeviation": (1.55, None), "firstorder_RobustMeanAbsoluteDeviation": (1.11, None),
    "firstorder_Energy": (567, None), "firstorder_RootMeanSquared": (2.77, None),
    "firstorder_Entropy": (1.27, None), "firstorder_Uniformity": (0.512, None),
    # GLCM, 3D averaged
    "glcm_MaximumProbability": (0.503, None), "glcm_JointAverage": (2.14, None), "glcm_SumSquares": (3.1, None),
    "glcm_JointEntropy": (2.4, None), "glcm_DifferenceAverage": (1.43, None),
    "glcm_DifferenceVariance": (3.06, None), "glcm_DifferenceEntropy": (1.56, None),
    "glcm_SumAverage": (4.29, None), "glcm_ClusterTendency": (7.07, None), "glcm_SumEntropy": (1.92, None),
    "glcm_JointEnergy": (0.303, None), "glcm_Contrast": (5.32, None), "glcm_Id": (0.677, None),
    "glcm_Idn": (0.851, None), "glcm_Idm": (0.618, None), "glcm_Idmn": (0.898, None),
    "glcm_InverseVariance": (0.0604, None), "glcm_Correlation": (0.157, None),
    "glcm_Autocorrelation": (5.06, None), "glcm_ClusterShade": (16.6, None),
    "glcm_ClusterProminence": (145, None), "glcm_Imc1": (-0.157, None), "glcm_Imc2": (0.52, None),
    # GLRLM, 3D averaged
    "glrlm_ShortRunEmphasis": (0.705, None), "glrlm_LongRunEmphasis": (3.06, None),
    "glrlm_LowGrayLevelRunEmphasis": (0.603, None), "glrlm_HighGrayLevelRunEmphasis": (9.7, None),
    "glrlm_ShortRunLowGrayLevelEmphasis": (0.352, None), "glrlm_ShortRunHighGrayLevelEmphasis": (8.54, None),
    "glrlm_LongRunLowGrayLevelEmphasis": (2.39, None), "glrlm_LongRunHighGrayLevelEmphasis": (17.6, None),
    "glrlm_GrayLevelNonUniformity": (21.8, None), "glrlm_GrayLevelNonUniformityNormalized": (0.43, None),
    "glrlm_RunLengthNonUniformity": (26.9, None), "glrlm_RunLengthNonUniformityNormalized": (0.513, None),
    "glrlm_RunPercentage": (0.68, None), "glrlm_GrayLevelVariance": (3.46, None),
    "glrlm_RunVariance": (0.574, None), "glrlm_RunEntropy": (2.43, None),
    # GLSZM, 3D
    "glszm_SmallAreaEmphasis": (0.255, None), "glszm_LargeAreaEmphasis": (550, None),
    "glszm_LowGrayLevelZoneEmphasis": (0.253, None), "glszm_HighGrayLevelZoneEmphasis": (15.6, None),
    "glszm_SmallAreaLowGrayLevelEmphasis": (0.0256, None), "glszm_SmallAreaHighGrayLevelEmphasis": (2.76, None),
    "glszm_LargeAreaLowGrayLevelEmphasis": (503, None), "glszm_LargeAreaHighGrayLevelEmphasis": (1490, None),
    "glszm_GrayLevelNonUniformity": (1.4, None), "glszm_GrayLevelNonUniformityNormalized": (0.28, None),
    "glszm_SizeNonUniformity": (1, None), "glszm_SizeNonUniformityNormalized": (0.2, None),
    "glszm_ZonePercentage": (0.0676, None), "glszm_GrayLevelVariance": (2.64, None),
    "glszm_ZoneVariance": (331, None), "glszm_ZoneEntropy": (2.32, None),
    # NGLDM (pyradiomics GLDM), 3D, alpha = 0
    "gldm_SmallDependenceEmphasis": (0.045, None), "gldm_LargeDependenceEmphasis": (109, None),
    "gldm_LowGrayLevelEmphasis": (0.693, None), "gldm_HighGrayLevelEmphasis": (7.66, None),
    "gldm_SmallDependenceLowGrayLevelEmphasis": (0.00963, None),
    "gldm_SmallDependenceHighGrayLevelEmphasis": (0.736, None),
    "gldm_LargeDependenceLowGrayLevelEmphasis": (102, None),
    "gldm_LargeDependenceHighGrayLevelEmphasis": (235, None),
    "gldm_GrayLevelNonUniformity": (37.9, None), "gldm_DependenceNonUniformity": (4.86, None),
    "gldm_DependenceNonUniformityNormalized": (0.0657, None), "gldm_GrayLevelVariance": (3.05, None),
    "gldm_DependenceVariance": (22.1, None), "gldm_DependenceEntropy": (4.4, None),
    # NGTDM, 3D
    "ngtdm_Coarseness": (0.0296, None), "ngtdm_Contrast": (0.584, None), "ngtdm_Busyness": (6.54, None),
    "ngtdm_Complexity": (13.5, None), "ngtdm_Strength": (0.763, None),
}


def _agrees(ours: float, reference: float, tolerance: float | None) -> bool:
    if tolerance is None:                      # 3 significant digits: half a unit of the last one
        tolerance = 0.5 * 10 ** (math.floor(math.log10(abs(reference))) - 2) if reference else 1e-9
    return abs(ours - reference) <= tolerance + 1e-12


@pytest.fixture(scope="module")
def phantom_features() -> dict[str, float]:
    return rad.radiomics(PHANTOM, PHANTOM_MASK, spacing=SPACING, bin_width=1.0, value_range=None)


@pytest.mark.parametrize("key", sorted(IBSI_REFERENCE))
def test_ibsi_digital_phantom(phantom_features, key):
    reference, tolerance = IBSI_REFERENCE[key]
    assert _agrees(phantom_features[key], reference, tolerance), (key, phantom_features[key], reference)


def test_phantom_is_the_published_one():
    assert PHANTOM.shape == (4, 4, 5) and PHANTOM_MASK.sum() == 74
    assert set(np.unique(PHANTOM[PHANTOM_MASK])) == {1, 3, 4, 6}


def test_fixed_bin_number_of_six_leaves_the_phantom_unchanged(phantom_features):
    """IBSI: "a fixed bin number discretisation of 6 bins ... does not alter the phantom"."""
    by_count = rad.radiomics(PHANTOM, PHANTOM_MASK, spacing=SPACING, bins=6, value_range=None)
    for key in ("glcm_Contrast", "glszm_ZoneEntropy", "ngtdm_Busyness", "firstorder_Entropy"):
        assert by_count[key] == pytest.approx(phantom_features[key])


def test_every_class_is_there_with_pyradiomics_names(phantom_features):
    classes = {key.split("_", 1)[0] for key in phantom_features}
    assert classes == set(rad.FEATURE_CLASSES)
    assert all(isinstance(v, float) and math.isfinite(v) for v in phantom_features.values())


def test_extractor_matches_the_one_call_api():
    extractor = rad.featureextractor.RadiomicsFeatureExtractor(binWidth=1)
    result = extractor.execute(PHANTOM, PHANTOM_MASK.astype(np.uint8))
    assert isinstance(result, OrderedDict)
    direct = rad.radiomics(PHANTOM, PHANTOM_MASK, bin_width=1.0, value_range=None)
    assert result["original_glcm_Contrast"] == pytest.approx(direct["glcm_Contrast"])
    assert result["original_shape_VoxelVolume"] == pytest.approx(74.0)      # 1 mm voxels without spacing
    extractor.disableAllFeatures()
    extractor.enableFeaturesByName(firstorder=["Mean", "Maximum"])
    assert list(extractor.execute(PHANTOM, PHANTOM_MASK.astype(np.uint8))) == [
        "original_firstorder_Maximum", "original_firstorder_Mean"]


def test_filters_prefix_every_key():
    rng = np.random.default_rng(1)
    image = rng.normal(40, 10, (6, 16, 16))
    mask = np.zeros(image.shape, bool)
    mask[1:5, 4:12, 4:12] = True
    found = rad.radiomics(image, mask, spacing=(1, 1, 2), log_sigma=[1.0], wavelet=True, bin_width=5.0,
                          filters={"classes": ["firstorder"]})
    kinds = {key.split("_", 1)[0] for key in found}
    assert kinds == {"original", "log-sigma-1-mm-3D", "wavelet-LLL", "wavelet-LLH", "wavelet-LHL", "wavelet-LHH",
                     "wavelet-HLL", "wavelet-HLH", "wavelet-HHL", "wavelet-HHH"}
    assert found["original_firstorder_Mean"] == pytest.approx(image[mask].mean())


def test_two_d_input_gets_shape2d():
    image = np.zeros((20, 20))
    image[5:15, 5:15] = 100.0
    image[8:12, 8:12] = 200.0
    found = rad.radiomics(image, image > 0, spacing=(0.5, 0.5), bins=8)
    assert found["shape2D_PixelSurface"] == pytest.approx(100 * 0.25)
    assert found["shape2D_MeshSurface"] == pytest.approx(25, rel=0.05)
    assert found["firstorder_Maximum"] == 200.0 and "glcm_Contrast" in found


def test_preprocessing_options():
    rng = np.random.default_rng(2)
    image = rng.normal(0, 50, (8, 12, 12))
    mask = np.zeros(image.shape, bool)
    mask[2:6, 3:9, 3:9] = True
    resampled = rad.radiomics(image, mask, spacing=(1, 1, 2), resample=1.0, bin_width=10.0)
    assert resampled["shape_VoxelVolume"] == pytest.approx(4 * 2 * 36, rel=0.35)
    resegmented = rad.radiomics(image, mask, resegment=(-20, 20), bin_width=10.0)
    assert resegmented["firstorder_Maximum"] <= 20 and resegmented["firstorder_Minimum"] >= -20
    normalized = rad.radiomics(image, mask, normalize=True, normalize_scale=100, bin_width=10.0)
    assert abs(normalized["firstorder_Mean"]) < 60
    shifted = rad.radiomics(image, mask, voxel_array_shift=1000, bin_width=10.0)
    assert shifted["firstorder_Energy"] > rad.radiomics(image, mask, bin_width=10.0)["firstorder_Energy"]


def test_dicom_path_with_thresholds():
    ct = DICOM / "pydicom" / "CT_small.dcm"
    if not ct.is_file():
        pytest.skip(f"no {ct}")
    found = rad.radiomics(str(ct), roi=(0.0, 200.0), bin_width=25.0)
    from pydicom import dcmread
    ds = dcmread(ct)
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    inside = hu[(hu >= 0) & (hu <= 200)]
    assert found["firstorder_Mean"] == pytest.approx(inside.mean(), rel=1e-5)
    spacing = [float(v) for v in ds.PixelSpacing]
    assert found["shape2D_PixelSurface"] == pytest.approx(inside.size * spacing[0] * spacing[1])


def test_bad_input_raises_our_errors():
    for call in (lambda: rad.radiomics(PHANTOM, PHANTOM_MASK[:2]),
                 lambda: rad.radiomics(PHANTOM, np.zeros(PHANTOM.shape)),
                 lambda: rad.radiomics(PHANTOM),
                 lambda: rad.radiomics(PHANTOM, PHANTOM_MASK, bins=0),
                 lambda: rad.radiomics(PHANTOM, PHANTOM_MASK, spacing=(0, 1, 1)),
                 lambda: rad.radiomics(PHANTOM, PHANTOM_MASK, averaged=False),
                 lambda: rad.radiomics(np.zeros(5), np.ones(5)),
                 lambda: rad.radiomics(PHANTOM, PHANTOM_MASK, resegment=(100, 200))):
        with pytest.raises(rad.RadiomicsInputError):
            call()
    with pytest.raises(SonobridgeError):
        rad.radiomics("/nonexistent/ct.dcm", roi=(0, 1))
    assert issubclass(rad.RadiomicsInputError, ValueError) and issubclass(MissingDependencyError, ImportError)


@pytest.mark.parametrize("spacing", [["0.5"], ["0", "0.5"], ["-1", "0.5"]])
def test_a_dicom_with_a_bad_pixel_spacing_is_the_packages_error(tmp_path, spacing):
    import pydicom
    from pydicom.data import get_testdata_file

    from sonobridge.dicom.radiomics import radiomics
    from sonobridge.errors import FormatError

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.PixelSpacing = spacing
    ds.save_as(tmp_path / "bad.dcm")
    mask = np.zeros((128, 128), np.uint8)
    mask[40:80, 40:80] = 1
    with pytest.raises(FormatError, match="bad.dcm"):
        radiomics(str(tmp_path / "bad.dcm"), mask)
