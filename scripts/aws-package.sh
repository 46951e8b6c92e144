#!/bin/sh
# aws-package.sh BOOTSTRAP OUTDIR: OUTDIR/ccf-lambda.zip for the AWS profile's
# Lambda function (provided.al2023, x86_64): BOOTSTRAP at the zip's root as
# "bootstrap" (mode 0755), and under lib/ every shared library it loads
# (ldd, transitively) but glibc's own (libc, libm, libresolv...: Lambda
# has them, 2.34, and they must match its libc); the
# binary's RPATH is $ORIGIN/lib (Makefile). Timestamps are fixed so that
# the same inputs give the same zip.
set -eu
bin=$1
out=$2
stage=$out/stage
rm -rf "$stage" "$out/ccf-lambda.zip"
mkdir -p "$stage/lib"
cp "$bin" "$stage/bootstrap"
chmod 0755 "$stage/bootstrap"
ldd "$bin" | awk '/=> \// {print $3}' | while read -r lib; do
    case ${lib##*/} in
    libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | libresolv.so.* | \
        libutil.so.* | libanl.so.* | libnsl.so.* | ld-linux*) ;;
    *) cp -L "$lib" "$stage/lib/" ;;
    esac
done
find "$stage" -exec touch -h -d @315532800 {} +
(cd "$stage" && find . -type f | LC_ALL=C sort | sed 's|^\./||' | zip -q -X -@ ../ccf-lambda.zip)
echo "aws-package: $out/ccf-lambda.zip ($(ls "$stage/lib" | wc -l) libraries under lib/)"
