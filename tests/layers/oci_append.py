#!/usr/bin/env python3
"""Add an image to an OCI layout: an image already in it, plus layers.

    oci_append.py LAYOUT BASE_TAG NEW_TAG TAR...      the given layer tars
    oci_append.py LAYOUT BASE_TAG NEW_TAG --many N    N small generated layers
                                                      (layer I holds /many/I
                                                      and replaces /many/last)

LAYOUT holds image BASE_TAG (tests/lib/image.sh makes one); image NEW_TAG
gets its layers, then the new ones (uncompressed tar), with history.
"""
import hashlib
import io
import json
import os
import sys
import tarfile


def _canon(o):
    return json.dumps(o, sort_keys=True, separators=(",", ":")).encode()


def small_layer(i):
    """A tiny layer: /many/ (a folder), /many/I and /many/last."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in ((None, None), ("many/%d" % i, b"%d\n" % i), ("many/last", b"%d\n" % i)):
            ti = tarfile.TarInfo(name or "many")
            ti.mtime = 1700000000
            if data is None:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                t.addfile(ti)
            else:
                ti.mode, ti.size = 0o644, len(data)
                t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def append_layers(layout, base_tag, new_tag, layers):
    """layers: (name, bytes) pairs, bottom first."""
    blobs = os.path.join(layout, "blobs", "sha256")

    def read_blob(digest):
        with open(os.path.join(blobs, digest.split(":")[1]), "rb") as fh:
            return fh.read()

    def put_blob(data):
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, h), "wb") as fh:
            fh.write(data)
        return "sha256:" + h

    with open(os.path.join(layout, "index.json")) as fh:
        index = json.load(fh)
    base = next(m for m in index["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == base_tag)
    manifest = json.loads(read_blob(base["digest"]))
    config = json.loads(read_blob(manifest["config"]["digest"]))
    for name, data in layers:
        digest = put_blob(data)
        manifest["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                   "digest": digest, "size": len(data)})
        config["rootfs"]["diff_ids"].append(digest)
        config["history"].append({"created": "2024-01-02T03:04:05Z", "created_by": "layer " + name})
    cfg = _canon(config)
    manifest["config"] = {"mediaType": manifest["config"]["mediaType"],
                          "digest": put_blob(cfg), "size": len(cfg)}
    man = _canon(manifest)
    index["manifests"] = [m for m in index["manifests"]
                          if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != new_tag]
    index["manifests"].append({"mediaType": manifest["mediaType"], "digest": put_blob(man),
                               "size": len(man),
                               "annotations": {"org.opencontainers.image.ref.name": new_tag}})
    with open(os.path.join(layout, "index.json"), "w") as fh:
        json.dump(index, fh)


if __name__ == "__main__":
    layout, base_tag, new_tag = sys.argv[1:4]
    if sys.argv[4] == "--many":
        layers = [(str(i), small_layer(i)) for i in range(int(sys.argv[5]))]
    else:
        layers = []
        for path in sys.argv[4:]:
            with open(path, "rb") as fh:
                layers.append((os.path.basename(path), fh.read()))
    append_layers(layout, base_tag, new_tag, layers)
