/* winograd_c.c - the Winograd transforms for the portable path. */
#define RN_WINO(name) name##__c
#include "kernels/winograd_transforms.inc"
