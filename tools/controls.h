/* SPDX-License-Identifier: MIT */
/*
 * controls — a device's controls as an application sees them: enumerate
 * (QUERY_EXT_CTRL, or QUERYCTRL from devices without it), read current
 * values (G_EXT_CTRLS), menu item names (QUERYMENU), and turn "name=value"
 * arguments into one S_EXT_CTRLS.  Names are v4l2-ctl's ("brightness",
 * "white_balance_automatic"); a control id (0x00980900) works too.
 */
#ifndef VQM_CONTROLS_H
#define VQM_CONTROLS_H

#include "stack.h"

struct vqm_ctrl {
	struct v4l2_query_ext_ctrl q;
	char var[64]; /* command-line name */
};

struct vqm_ctrls {
	struct vqm_ctrl *c;
	unsigned n;
};

/* Every control, class headers included, in the device's order.  A device
 * with neither QUERY_EXT_CTRL nor QUERYCTRL has none.  Returns 0 or -errno. */
int vqm_ctrls_query(struct vqm_stack *s, uint32_t sid, struct vqm_ctrls *out);
void vqm_ctrls_free(struct vqm_ctrls *c);

/* By command-line name or numeric id; NULL if none (class headers never match). */
const struct vqm_ctrl *vqm_ctrls_find(const struct vqm_ctrls *c, const char *name);

/* True for controls that have one integer value to read or set. */
bool vqm_ctrl_has_value(const struct vqm_ctrl *c);

/* The current value of @c.  Returns 0 or -errno. */
int vqm_ctrl_get(struct vqm_stack *s, uint32_t sid, const struct vqm_ctrl *c, int64_t *value);

/* Menu item @index of @c: its name (menus) or value (integer menus) into
 * @buf.  Returns 0, or -errno (-EINVAL: no such item). */
int vqm_ctrl_menu_item(struct vqm_stack *s, uint32_t sid, const struct vqm_ctrl *c,
		       uint32_t index, char *buf, size_t len);

/*
 * Parse "name=value" into @out against @ctrls.  The value is a number, or
 * for booleans true/false, for menus an item's command-line name.  Returns
 * 0, or -errno with a message in @msg: -ENOENT no such control, -EINVAL no
 * '=' or not a value, -ERANGE outside the control's range, -EACCES
 * read-only or inactive-by-flag control.
 */
int vqm_ctrl_parse(struct vqm_stack *s, uint32_t sid, const struct vqm_ctrls *ctrls,
		   const char *arg, struct v4l2_ext_control *out, char *msg, size_t len);

/* S_EXT_CTRLS of @n controls (which = current values).  Returns 0 or -errno
 * with *@error_idx the control the device blamed (@n: none in particular). */
int vqm_ctrls_set(struct vqm_stack *s, uint32_t sid, struct v4l2_ext_control *c, uint32_t n,
		  uint32_t *error_idx);

#endif
