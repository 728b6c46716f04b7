// The types the node and the clients share (JSON value, JSON-RPC error, HOST:PORT, ...) come with this module.
@_exported import RocketWSProtocol
