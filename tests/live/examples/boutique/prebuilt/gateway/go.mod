module traefik

go 1.19
