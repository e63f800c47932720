"""import sonobridge stays light: no heavy or network modules pulled in."""
import subprocess
import sys


def test_import_is_light():
    code = ("import sys, sonobridge, sonobridge.clarius; "
            "heavy = {'torch', 'tensorflow', 'jax', 'keras', 'matplotlib', 'requests', 'urllib3', 'PIL', 'tqdm'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
