"""The PEP 517 build backend of the iwin32 package, in the tree
(pyproject.toml: backend-path), so that ``pip install ./python`` needs
nothing from an index: with build isolation pip would otherwise fetch
setuptools first, and fail offline.

The package is pure Python with no build step, so a wheel is a zip of
iwin32/ (every file but caches) and its .dist-info (PEP 427, core metadata
2.1), named and described from pyproject.toml's [project] table, of which
this reads the plain ``key = "string"`` lines (the version: ``iwin32.__version__``).  No sdist and no editable
builds: pip install ./python needs neither.
"""
import base64
import hashlib
import os
import re
import zipfile

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # python/
_PACKAGE = "iwin32"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same tree gives the same wheel


def _project():
    """[project]'s plain string values from pyproject.toml."""
    values, in_project = {}, False
    with open(os.path.join(_HERE, "pyproject.toml"), encoding="utf-8") as toml:
        for line in toml:
            table = re.match(r"\s*\[([^\]]+)\]", line)
            if table:
                in_project = table.group(1).strip() == "project"
                continue
            pair = re.match(r'\s*([A-Za-z][\w-]*)\s*=\s*"([^"]*)"\s*$', line)
            if in_project and pair:
                values[pair.group(1)] = pair.group(2)
    if "version" not in values:  # dynamic = ["version"]: the package's __version__
        with open(os.path.join(_HERE, _PACKAGE, "__init__.py"), encoding="utf-8") as init:
            found = re.search(r'^__version__\s*=\s*"([^"]+)"', init.read(), re.M)
        values["version"] = found.group(1)
    return values


def _dist_info(project):
    return "%s-%s.dist-info" % (project["name"], project["version"])


def _metadata(project):
    lines = ["Metadata-Version: 2.1", "Name: " + project["name"], "Version: " + project["version"]]
    if "description" in project:
        lines.append("Summary: " + project["description"])
    if "requires-python" in project:
        lines.append("Requires-Python: " + project["requires-python"])
    return "\n".join(lines) + "\n"


_WHEEL = "Wheel-Version: 1.0\nGenerator: iwin32_backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    project = _project()
    target = os.path.join(metadata_directory, _dist_info(project))
    os.makedirs(target, exist_ok=True)
    for name, text in (("METADATA", _metadata(project)), ("WHEEL", _WHEEL)):
        with open(os.path.join(target, name), "w", encoding="utf-8") as out:
            out.write(text)
    return _dist_info(project)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project = _project()
    wheel_name = "%s-%s-py3-none-any.whl" % (project["name"], project["version"])
    files = []
    for root, dirs, names in os.walk(os.path.join(_HERE, _PACKAGE)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            if not name.endswith((".pyc", ".pyo")):
                path = os.path.join(root, name)
                with open(path, "rb") as data:
                    files.append((os.path.relpath(path, _HERE), data.read()))
    info = _dist_info(project)
    files.append((info + "/METADATA", _metadata(project).encode()))
    files.append((info + "/WHEEL", _WHEEL.encode()))
    record = []
    for arcname, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (arcname, digest, len(data)))
    record.append(info + "/RECORD,,")
    files.append((info + "/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w", zipfile.ZIP_DEFLATED) as wheel:
        for arcname, data in files:
            entry = zipfile.ZipInfo(arcname, _EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data)
    return wheel_name
