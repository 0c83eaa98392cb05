set -e
mkdir -p t/dir/sub
echo one > t/dir/one.txt
echo two > t/dir/sub/two.txt
ln -s one.txt t/dir/link
chmod 0700 t/dir/sub
chmod 4755 t/dir/one.txt
tar --sort=name --mtime=@1600000000 --numeric-owner --owner=1000 --group=1000 -C t -cf tree.tar dir
gzip -n -k tree.tar
bzip2 -k tree.tar
xz -k tree.tar
zstd -q -k tree.tar
echo not a tar | gzip -n > notatar.gz
rm -rf t
