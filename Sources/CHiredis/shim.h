#ifndef CHIREDIS_SHIM_H
#define CHIREDIS_SHIM_H
// Debian's libhiredis-dev (0.14.1) installs its headers under /usr/include/hiredis.
// Drover uses only the RESP reader (redisReaderCreate/Feed/GetReply) and the reply objects.
#include <hiredis/hiredis.h>
#endif
