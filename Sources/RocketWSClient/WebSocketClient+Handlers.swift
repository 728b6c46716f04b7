import NIOCore
import NIOHTTP1
import NIOWebSocket

extension WebSocketClient {
    /// Sends the upgrade request once connected and turns a non-101 answer into
    /// ``ClientError/handshakeFailed(status:)``. Removed from the pipeline when the upgrade succeeds.
    final class HandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart

        private let endpoint: Endpoint
        private let headers: HTTPHeaders
        private let promise: EventLoopPromise<Void>

        init(endpoint: Endpoint, headers: HTTPHeaders, promise: EventLoopPromise<Void>) {
            self.endpoint = endpoint
            self.headers = headers
            self.promise = promise
        }

        func channelActive(context: ChannelHandlerContext) {
            var headers = self.headers
            if !headers.contains(name: "Host") { headers.add(name: "Host", value: self.endpoint.hostHeader) }
            headers.add(name: "Content-Length", value: "0")
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: self.endpoint.path, headers: headers)
            context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head(let head) = Self.unwrapInboundIn(data) {
                self.promise.fail(ClientError.handshakeFailed(status: Int(head.status.code)))
                context.close(promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.promise.fail(ClientError.connectionClosed(reason: "closed during the WebSocket handshake"))
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            self.promise.fail(ClientError.invalidResponse("WebSocket handshake: \(error)"))
            context.close(promise: nil)
        }
    }

    /// The WebSocket session after the upgrade: answers pings, echoes the server's close, hands
    /// text frames to the optional tap and then to the mailbox.
    final class SessionHandler: ChannelDuplexHandler {
        typealias InboundIn = WebSocketFrame
        typealias OutboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame

        private let mailbox: Mailbox
        private let textTap: TextTap?
        private var sentClose = false
        private var receivedClose = false

        init(mailbox: Mailbox, textTap: TextTap?) {
            self.mailbox = mailbox
            self.textTap = textTap
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = Self.unwrapInboundIn(data)
            switch frame.opcode {
            case .text:
                let payload = frame.unmaskedData
                if let tap = self.textTap, tap(payload) { return }
                self.mailbox.receive(text: String(buffer: payload))
            case .binary:
                self.mailbox.deliver(.binary(frame.unmaskedData))
            case .ping:
                let pong = WebSocketFrame(
                    fin: true,
                    opcode: .pong,
                    maskKey: .random(),
                    data: frame.unmaskedData
                )
                context.writeAndFlush(Self.wrapOutboundOut(pong), promise: nil)
            case .connectionClose:
                self.receivedClose = true
                var payload = frame.unmaskedData
                let code = payload.readWebSocketErrorCode()
                let reason = payload.readString(length: payload.readableBytes) ?? ""
                self.mailbox.deliver(.close(code: code, reason: reason))
                if self.sentClose {
                    context.close(promise: nil)
                } else {
                    self.sentClose = true
                    var echo = context.channel.allocator.buffer(capacity: 2)
                    if let code { echo.write(webSocketErrorCode: code) }
                    let closeFrame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: echo)
                    context.writeAndFlush(Self.wrapOutboundOut(closeFrame)).assumeIsolated().whenComplete { _ in
                        context.close(promise: nil)
                    }
                }
            default:
                break
            }
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            if Self.unwrapOutboundIn(data).opcode == .connectionClose {
                self.sentClose = true
            }
            context.write(data, promise: promise)
        }

        func channelInactive(context: ChannelHandlerContext) {
            if !self.receivedClose {
                self.mailbox.deliver(.close(code: nil, reason: "connection closed without a close frame"))
            }
            self.mailbox.finish()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension WebSocketClient.HandshakeHandler: Sendable {}

@available(*, unavailable)
extension WebSocketClient.SessionHandler: Sendable {}
