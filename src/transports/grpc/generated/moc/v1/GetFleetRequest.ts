// Original file: proto/moc.proto


export interface GetFleetRequest {
}

export interface GetFleetRequest__Output {
}
