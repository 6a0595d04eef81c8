# Fallback tiny TCP service (no C compiler): same behaviour as server.c. Usage: perl server.pl PORT
use strict;
use IO::Select;
use Socket;
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1);
bind($s, sockaddr_in($ARGV[0], INADDR_LOOPBACK)) or die "bind: $!";
listen($s, 128) or die "listen: $!";
my $sel = IO::Select->new($s);
while (1) {
  for my $fh ($sel->can_read) {
    if ($fh == $s) {
      accept(my $c, $s) or next;
      $sel->add($c);
    } elsif (!sysread($fh, my $buf, 512)) {
      $sel->remove($fh);
      close($fh);
    }
  }
}
