// Original file: proto/moc.proto


export interface WatchModelsRequest {
}

export interface WatchModelsRequest__Output {
}
