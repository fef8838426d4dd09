#!/usr/bin/env bash
# Fetches the Penn Treebank files of Mikolov's simple-examples.tgz into data/ptb, the same way
# the Java PtbDownloader does: download, extract the three files, check MD5s, and only then move them in.
# Usage: data/download-ptb.sh   (set LSTM_PTB_URL to use a mirror)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$here/ptb"
url="${LSTM_PTB_URL:-http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz}"
files=(ptb.train.txt ptb.valid.txt ptb.test.txt)

if [ -d "$dest" ] && (cd "$dest" && md5sum --quiet -c "$here/MD5SUMS" >/dev/null 2>&1); then
    echo "PTB data already present and verified in $dest"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "Downloading $url"
if command -v curl >/dev/null; then
    curl -fL --connect-timeout 15 --progress-bar -o "$work/simple-examples.tgz" "$url"
elif command -v wget >/dev/null; then
    wget --timeout=15 -O "$work/simple-examples.tgz" "$url"
else
    echo "Neither curl nor wget is installed; install one, or put ${files[*]} into $dest by hand." >&2
    exit 1
fi

mkdir -p "$work/extracted" "$work/staged"
tar -xzf "$work/simple-examples.tgz" -C "$work/extracted"
for f in "${files[@]}"; do
    found="$(find "$work/extracted" -type f -path "*/data/$f" | head -n 1)"
    if [ -z "$found" ]; then
        echo "The archive has no data/$f; is $url the right file?" >&2
        exit 1
    fi
    cp "$found" "$work/staged/$f"
done

# Refuse to install anything unless all three checksums match.
if ! (cd "$work/staged" && md5sum -c "$here/MD5SUMS"); then
    echo "Checksums do not match data/MD5SUMS; nothing was installed into $dest." >&2
    echo "Retry, or use another mirror via LSTM_PTB_URL." >&2
    exit 1
fi

mkdir -p "$dest"
for f in "${files[@]}"; do
    # copy next to the target, then rename, so a reader never sees a half-written file
    cp "$work/staged/$f" "$dest/.$f.part"
    chmod 644 "$dest/.$f.part"
    mv -f "$dest/.$f.part" "$dest/$f"
done
echo "PTB data ready in $dest"
