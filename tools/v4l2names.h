/* SPDX-License-Identifier: MIT */
/*
 * v4l2names — V4L2 numbers as people read them: ioctl names for error
 * messages, fourccs, capability bits, control types and the control names
 * v4l2-ctl uses on its command line ("Brightness" -> "brightness",
 * "White Balance, Automatic" -> "white_balance_automatic").
 */
#ifndef VQM_V4L2NAMES_H
#define VQM_V4L2NAMES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* "VIDIOC_S_FMT", or "ioctl 0x..." (in a static buffer) if unknown. */
const char *vqm_ioctl_name(unsigned long req);

/* The four characters of @fourcc, non-printable ones as '.', plus "-BE"
 * for big-endian variants.  Returns @buf (at least 8 bytes). */
const char *vqm_fourcc(uint32_t fourcc, char buf[8]);

/* One line per set V4L2_CAP_* bit, each prefixed with @indent. */
void vqm_print_caps(FILE *f, uint32_t caps, const char *indent);

/* "int", "bool", "menu", ... as v4l2-ctl prints them. */
const char *vqm_ctrl_type_name(uint32_t type);

/* Flags of a control as v4l2-ctl prints them ("slider,update"); @buf
 * holds the result (empty if none).  Returns @buf. */
const char *vqm_ctrl_flags(uint32_t flags, char *buf, size_t len);

/* v4l2-ctl's command-line name for a control or menu item called @name. */
void vqm_ctrl_var_name(const char *name, char *out, size_t len);

const char *vqm_field_name(uint32_t field);
const char *vqm_colorspace_name(uint32_t cs);
const char *vqm_ycbcr_enc_name(uint32_t enc);

#endif
