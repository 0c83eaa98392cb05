chmod 0000 unreadable.txt
