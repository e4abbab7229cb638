/** The most models side by side shows at once; Compare's list of differences opens that many of its models. */
export const MAX_PANES = 4;
