#!/usr/bin/env bash
# `make demo`: start a shell-less app and open nosh beside it.
#
# 1. Assemble a FROM-scratch image around the static demo-app: no shell, user
#    65532, a root-owned /var/log/demo it cannot write (docker import of a
#    tar; nothing is pulled).
# 2. Start it as the container nosh-demo (replacing an old one).
# 3. Show `docker exec nosh-demo sh` failing.
# 4. Open nosh beside it: interactive on a terminal, otherwise a few
#    commands on stdin.
#
# Works as a user in the docker group: tar sets the owners, not chown.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-$PWD/target}
static_dev=$target_dir/x86_64-unknown-linux-gnu/static-dev
nosh=${NOSH_BIN:-$static_dev/nosh}
demo_app=${NOSH_DEMO_APP:-$static_dev/examples/demo-app}
image=nosh-demo-app:1.0
name=nosh-demo

for bin in "$nosh" "$demo_app"; do
    [[ -x $bin ]] || { echo "demo: $bin is missing; run 'make static-dev'" >&2; exit 1; }
done

# 1. The image.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{app,etc,root,tmp,home/nonroot,var/log/demo}
install -m 0755 "$demo_app" "$root/app/demo-app"
printf 'id,amount\n1,100\n2,250\n' > "$root/app/data.txt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$root/etc/group"
chmod 0755 "$root"/{app,etc,home,home/nonroot,var,var/log,var/log/demo}
chmod 0644 "$root"/etc/{passwd,group} "$root/app/data.txt"
chmod 0700 "$root/root"
chmod 1777 "$root/tmp"
# Everything root's, except the home directory and the data file.
tar -C "$root" --numeric-owner --owner=0 --group=0 \
    --exclude=./home/nonroot --exclude=./app/data.txt -cf "$work/rootfs.tar" .
tar -C "$root" --numeric-owner --owner=65532 --group=65532 \
    --no-recursion -rf "$work/rootfs.tar" ./home/nonroot ./app/data.txt
docker import \
    --change 'USER 65532:65532' \
    --change 'WORKDIR /app' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'EXPOSE 8443/tcp' \
    --change 'ENTRYPOINT ["/app/demo-app"]' \
    --change 'CMD ["--port", "8443", "--log", "/var/log/demo/app.log", "--data", "/app/data.txt", "--child", "--udp"]' \
    "$work/rootfs.tar" "$image" > /dev/null
rm -rf "$work"
trap - EXIT

# 2. The container.
docker rm -f "$name" > /dev/null 2>&1 || true
docker run -d --name "$name" "$image" > /dev/null
echo "started $name ($image): a static app as uid 65532, no shell"
sleep 0.5
docker logs "$name" 2>&1 | sed 's/^/  log: /'

# 3. What people try first.
echo
echo "\$ docker exec $name sh"
docker exec "$name" sh 2>&1 | sed 's/^/  /' || true

# 4. nosh.
echo
echo "remove the demo with: docker rm -f $name"
if [[ -t 0 && -t 1 ]]; then
    echo "\$ nosh $name"
    exec "$nosh" "$name"
fi
commands='id
ps
ls -l /var/log
why /var/log/demo write'
echo "\$ nosh -T $name   # with: $(paste -sd ';' <<< "$commands")"
status=0
"$nosh" -T "$name" <<< "$commands" || status=$?
echo "(nosh exited with status $status)"
