"""The digits arrays read without importing scikit-learn are exactly ``sklearn.datasets.load_digits``'."""

import subprocess
import sys

import numpy as np

from tasks.mnist import digits_arrays


def test_the_digits_equal_load_digits():
    from sklearn.datasets import load_digits

    images, labels = digits_arrays()
    digits = load_digits()
    np.testing.assert_array_equal(images, digits.images)
    np.testing.assert_array_equal(labels, digits.target)
    assert images.dtype == digits.images.dtype and labels.dtype == digits.target.dtype
    assert not images.flags.writeable and not labels.flags.writeable  # cached: shared by every caller


def test_reading_the_digits_does_not_import_scikit_learn():
    code = "import sys; from tasks.mnist import digits_arrays; digits_arrays(); print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
