import Crypto
import NIOCore
import NIOHTTP1

/// A file the WebSocket port serves to browsers: `GET /rocketws.js` (the client module) and `GET /demo` (a chat
/// page that uses it). The bytes are embedded in the binary (`BrowserAssetSources`, generated from clients/js).
struct BrowserAsset: Sendable {
    let contentType: String
    let body: [UInt8]
    /// A strong validator: the first 16 bytes of the body's SHA-256, quoted.
    let etag: String

    init(contentType: String, text: String) {
        self.contentType = contentType
        self.body = Array(text.utf8)
        let digest = SHA256.hash(data: body).prefix(16).map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
        self.etag = "\"\(digest)\""
    }

    static let rocketwsJS = BrowserAsset(contentType: "text/javascript; charset=utf-8", text: BrowserAssetSources.rocketwsJS)
    static let demo = BrowserAsset(contentType: "text/html; charset=utf-8", text: BrowserAssetSources.demoHTML)

    /// The asset at `path` (query string excluded), if any.
    static func at(path: String) -> BrowserAsset? {
        switch path {
        case "/rocketws.js": rocketwsJS
        case "/demo", "/demo/": demo
        default: nil
        }
    }

    /// The answer to `head` (GET or HEAD): 200 with the body, or 304 when `If-None-Match` names this version.
    /// Pages on other origins may import the module (`Access-Control-Allow-Origin: *`); caches keep it 5 minutes
    /// and then revalidate.
    func response(to head: HTTPRequestHead) -> (head: HTTPResponseHead, body: [UInt8]) {
        var headers = HTTPHeaders()
        headers.add(name: "etag", value: etag)
        headers.add(name: "cache-control", value: "public, max-age=300")
        headers.add(name: "access-control-allow-origin", value: "*")
        headers.add(name: "connection", value: "close")
        let given = head.headers["if-none-match"].flatMap { $0.split(separator: ",") }.map { $0.trimmingSpaces }
        if given.contains(etag) || given.contains("W/" + etag) || given.contains("*") {
            return (HTTPResponseHead(version: .http1_1, status: .notModified, headers: headers), [])
        }
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: String(body.count))
        return (HTTPResponseHead(version: .http1_1, status: .ok, headers: headers), head.method == .HEAD ? [] : body)
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
