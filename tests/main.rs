mod fast;
