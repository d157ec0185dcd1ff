#!/bin/sh
# Vendor firmware upgrade: fetch and flash.
URL=http://update.vendor.example/fw/router.bin
wget -O /tmp/fw.bin http://update.vendor.example/fw/router.bin
curl -k -o /tmp/fw.sig https://update.vendor.example/fw/router.sig
wget --no-check-certificate -O /tmp/notes.txt https://update.vendor.example/fw/notes.txt
md5sum /tmp/fw.bin
mtd -r write /tmp/fw.bin firmware
