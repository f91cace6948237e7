"""The session's local file system (segstream.runtime.local_fs) against Hadoop's own: it is
the one Spark and Delta use for file://, sets the permissions Hadoop would, renames, and
answers link status exactly as Hadoop's RawLocalFileSystem does."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from segstream.runtime.local_fs import HADOOP_CONF


def _hadoop(spark: Any) -> tuple[Any, Any, Any]:
    jvm = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    fs = jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("file:///"), conf)
    fc = jvm.org.apache.hadoop.fs.FileContext.getLocalFSFileContext(conf)
    return jvm, fs, fc


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_session_uses_it_for_both_hadoop_apis(spark: Any) -> None:
    _, fs, fc = _hadoop(spark)
    file_context_fs = fc.getDefaultFileSystem().getClass().getName()
    assert fs.getClass().getName() == HADOOP_CONF["fs.file.impl"]
    assert file_context_fs == HADOOP_CONF["fs.AbstractFileSystem.file.impl"]


def test_create_rename_and_permissions(spark: Any, tmp_path: Path) -> None:
    jvm, fs, fc = _hadoop(spark)
    hpath = jvm.org.apache.hadoop.fs.Path
    perm = jvm.org.apache.hadoop.fs.permission.FsPermission.valueOf
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"

    out = fc.create(hpath(a.as_uri())).permission(perm("-rw-r-----")).create().build()
    out.write(bytearray(b"hello"))
    out.close()
    assert _mode(a) == 0o640

    fs.setPermission(hpath(a.as_uri()), perm("-rwxr-x--x"))
    assert _mode(a) == 0o751

    rename = jvm.org.apache.hadoop.fs.Options.Rename
    options = spark.sparkContext._gateway.new_array(rename, 1)
    options[0] = rename.OVERWRITE
    fc.rename(hpath(a.as_uri()), hpath(b.as_uri()), options)
    assert not a.exists()
    assert b.read_bytes() == b"hello"
    # The checksum file moved with it, as Hadoop's ChecksumFs does.
    assert (tmp_path / ".b.txt.crc").is_file() and not (tmp_path / ".a.txt.crc").exists()


def test_link_status_as_hadoop_gives_it(spark: Any, tmp_path: Path) -> None:
    jvm, fs, _ = _hadoop(spark)
    hpath = jvm.org.apache.hadoop.fs.Path
    hadoops = jvm.org.apache.hadoop.fs.RawLocalFileSystem()
    hadoops.initialize(jvm.java.net.URI("file:///"), spark._jsc.hadoopConfiguration())
    ours = fs.getRawFileSystem()
    target, link = tmp_path / "target.txt", tmp_path / "link"
    target.write_text("12345")
    link.symlink_to(target)

    for name in (target.as_uri(), link.as_uri(), str(link), str(target)):
        got, want = ours.getFileLinkStatus(hpath(name)), hadoops.getFileLinkStatus(hpath(name))
        assert (got.isSymlink(), got.isFile(), got.getLen(), got.getPath().toString()) == (
            want.isSymlink(),
            want.isFile(),
            want.getLen(),
            want.getPath().toString(),
        ), name
        if want.isSymlink():
            assert got.getSymlink().toString() == want.getSymlink().toString()

    with pytest.raises(Exception, match="FileNotFoundException"):
        ours.getFileLinkStatus(hpath((tmp_path / "missing").as_uri()))
