import NIOCore

enum ByteBufferHelper {
    static func make(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }
}
