import Foundation
import DinoSegKernels
import DinoSegBackbone

/// Prints DinoSeg's rate against each peer: one text line per peer, or one JSON object per peer naming the CPU, the
/// kernel path, both precisions and the ratio. `rateKey` is the peer scripts' field ("images_per_second" or
/// "samples_per_second").
func printPeers(_ peers: [Peer], ours: Double, unit: String, rateKey: String, json: Bool, extra: [String: Any] = [:]) {
    let cpu = CPUFeatures.host.summary, path = KernelPath.best.name
    let precision = activePrecision.rawValue
    let engine = activeEngine == .oneDNNBF16 ? "oneDNN \(OneDNN.info?.isa ?? "")" : "BLAS \(BLASSetup.current.core ?? "")"
    for peer in peers {
        switch PeerBenchmark.run(peer) {
        case .success(let r):
            guard let rate = r.number(rateKey), rate > 0 else {
                print(json ? #"{"peer":\#(jsonString(peer.name)),"available":false,"reason":"no \#(rateKey) in its output"}"#
                           : "\(peer.name): no \(rateKey) in its output")
                continue
            }
            if json {
                var obj: [String: Any] = ["peer": peer.name, "available": true, "peer_\(rateKey)": rate,
                                          "peer_precision": r.text("precision") ?? "", "peer_setting": r.setting,
                                          "dinoseg_\(rateKey)": ours, "ratio_dinoseg_over_peer": ours / rate,
                                          "cpu": cpu, "kernel_path": path, "precision": precision, "matmul_engine": engine]
                if let m = r.number("peak_memory_mib") { obj["peer_peak_memory_mib"] = m }
                for (k, v) in extra { obj[k] = v }
                if let data = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]) {
                    print(String(decoding: data, as: UTF8.self))
                }
            } else {
                print(String(format: "%@ (%@): %.2f %@  →  DinoSeg %@ / it = %.2f×", peer.name, r.setting, rate, unit,
                             precision, ours / rate))
            }
        case .failure(let why):
            print(json ? #"{"peer":\#(jsonString(peer.name)),"available":false,"reason":\#(jsonString(why.message))}"#
                       : "\(peer.name): unavailable (\(why.message))")
        }
        fflush(stdout)
    }
    if !json { print("(CPU \(cpu); DinoSeg kernel path \(path), precision \(precision), matmul by \(engine))") }
}
