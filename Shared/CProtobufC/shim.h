#ifndef SKYPORT_CPROTOBUFC_SHIM_H
#define SKYPORT_CPROTOBUFC_SHIM_H
#include <protobuf-c/protobuf-c.h>
#endif
