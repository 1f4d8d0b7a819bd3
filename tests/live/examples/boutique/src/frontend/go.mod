module frontend

go 1.19
