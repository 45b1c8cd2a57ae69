module anchorage/benchpeer

go 1.26
