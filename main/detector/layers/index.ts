/** The detector's custom layers. Importing this module registers every class for (de)serialisation. */
export { ChannelGate, SqueezeExcite } from './channel.ts';
export { ApplySpatialGate, SpatialAttentionMap } from './spatial.ts';
export { NonLocalAggregate, NonLocalAttention } from './nonlocal.ts';
export { PixelShuffle, pixelShuffle } from './pixelShuffle.ts';
