module shortener

go 1.19
