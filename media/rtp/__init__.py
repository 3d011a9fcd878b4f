"""Sans-IO RTP/RTCP: packets, wrap-around arithmetic, reception statistics, playout buffer."""
