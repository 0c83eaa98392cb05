mkdir -p dir/empty-dir
chmod 0750 dir/nested
chmod 0600 dir/nested/two.txt
chmod 0755 dir/one.txt
