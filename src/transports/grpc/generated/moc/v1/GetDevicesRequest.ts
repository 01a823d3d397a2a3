// Original file: proto/moc.proto


export interface GetDevicesRequest {
}

export interface GetDevicesRequest__Output {
}
