import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { CancelJobRequest as _moc_v1_CancelJobRequest, CancelJobRequest__Output as _moc_v1_CancelJobRequest__Output } from './moc/v1/CancelJobRequest.js';
import type { ChatMessage as _moc_v1_ChatMessage, ChatMessage__Output as _moc_v1_ChatMessage__Output } from './moc/v1/ChatMessage.js';
import type { CreateGoalRequest as _moc_v1_CreateGoalRequest, CreateGoalRequest__Output as _moc_v1_CreateGoalRequest__Output } from './moc/v1/CreateGoalRequest.js';
import type { Criterion as _moc_v1_Criterion, Criterion__Output as _moc_v1_Criterion__Output } from './moc/v1/Criterion.js';
import type { DeviceInfo as _moc_v1_DeviceInfo, DeviceInfo__Output as _moc_v1_DeviceInfo__Output } from './moc/v1/DeviceInfo.js';
import type { Feedback as _moc_v1_Feedback, Feedback__Output as _moc_v1_Feedback__Output } from './moc/v1/Feedback.js';
import type { FleetHost as _moc_v1_FleetHost, FleetHost__Output as _moc_v1_FleetHost__Output } from './moc/v1/FleetHost.js';
import type { GetDevicesRequest as _moc_v1_GetDevicesRequest, GetDevicesRequest__Output as _moc_v1_GetDevicesRequest__Output } from './moc/v1/GetDevicesRequest.js';
import type { GetDevicesResponse as _moc_v1_GetDevicesResponse, GetDevicesResponse__Output as _moc_v1_GetDevicesResponse__Output } from './moc/v1/GetDevicesResponse.js';
import type { GetFleetRequest as _moc_v1_GetFleetRequest, GetFleetRequest__Output as _moc_v1_GetFleetRequest__Output } from './moc/v1/GetFleetRequest.js';
import type { GetFleetResponse as _moc_v1_GetFleetResponse, GetFleetResponse__Output as _moc_v1_GetFleetResponse__Output } from './moc/v1/GetFleetResponse.js';
import type { GetGoalRequest as _moc_v1_GetGoalRequest, GetGoalRequest__Output as _moc_v1_GetGoalRequest__Output } from './moc/v1/GetGoalRequest.js';
import type { GetJobRequest as _moc_v1_GetJobRequest, GetJobRequest__Output as _moc_v1_GetJobRequest__Output } from './moc/v1/GetJobRequest.js';
import type { GetModelRequest as _moc_v1_GetModelRequest, GetModelRequest__Output as _moc_v1_GetModelRequest__Output } from './moc/v1/GetModelRequest.js';
import type { Goal as _moc_v1_Goal, Goal__Output as _moc_v1_Goal__Output } from './moc/v1/Goal.js';
import type { GoalAchievedBy as _moc_v1_GoalAchievedBy, GoalAchievedBy__Output as _moc_v1_GoalAchievedBy__Output } from './moc/v1/GoalAchievedBy.js';
import type { InferChunk as _moc_v1_InferChunk, InferChunk__Output as _moc_v1_InferChunk__Output } from './moc/v1/InferChunk.js';
import type { InferRequest as _moc_v1_InferRequest, InferRequest__Output as _moc_v1_InferRequest__Output } from './moc/v1/InferRequest.js';
import type { InferResponse as _moc_v1_InferResponse, InferResponse__Output as _moc_v1_InferResponse__Output } from './moc/v1/InferResponse.js';
import type { Job as _moc_v1_Job, Job__Output as _moc_v1_Job__Output } from './moc/v1/Job.js';
import type { JobError as _moc_v1_JobError, JobError__Output as _moc_v1_JobError__Output } from './moc/v1/JobError.js';
import type { JobOutputs as _moc_v1_JobOutputs, JobOutputs__Output as _moc_v1_JobOutputs__Output } from './moc/v1/JobOutputs.js';
import type { JobProgress as _moc_v1_JobProgress, JobProgress__Output as _moc_v1_JobProgress__Output } from './moc/v1/JobProgress.js';
import type { ListGoalsRequest as _moc_v1_ListGoalsRequest, ListGoalsRequest__Output as _moc_v1_ListGoalsRequest__Output } from './moc/v1/ListGoalsRequest.js';
import type { ListGoalsResponse as _moc_v1_ListGoalsResponse, ListGoalsResponse__Output as _moc_v1_ListGoalsResponse__Output } from './moc/v1/ListGoalsResponse.js';
import type { ListJobsRequest as _moc_v1_ListJobsRequest, ListJobsRequest__Output as _moc_v1_ListJobsRequest__Output } from './moc/v1/ListJobsRequest.js';
import type { ListJobsResponse as _moc_v1_ListJobsResponse, ListJobsResponse__Output as _moc_v1_ListJobsResponse__Output } from './moc/v1/ListJobsResponse.js';
import type { ListModelsRequest as _moc_v1_ListModelsRequest, ListModelsRequest__Output as _moc_v1_ListModelsRequest__Output } from './moc/v1/ListModelsRequest.js';
import type { ListModelsResponse as _moc_v1_ListModelsResponse, ListModelsResponse__Output as _moc_v1_ListModelsResponse__Output } from './moc/v1/ListModelsResponse.js';
import type { LoadModelRequest as _moc_v1_LoadModelRequest, LoadModelRequest__Output as _moc_v1_LoadModelRequest__Output } from './moc/v1/LoadModelRequest.js';
import type { MemoryLedger as _moc_v1_MemoryLedger, MemoryLedger__Output as _moc_v1_MemoryLedger__Output } from './moc/v1/MemoryLedger.js';
import type { ModelInfo as _moc_v1_ModelInfo, ModelInfo__Output as _moc_v1_ModelInfo__Output } from './moc/v1/ModelInfo.js';
import type { ModelOpsClient as _moc_v1_ModelOpsClient, ModelOpsDefinition as _moc_v1_ModelOpsDefinition } from './moc/v1/ModelOps.js';
import type { PinModelRequest as _moc_v1_PinModelRequest, PinModelRequest__Output as _moc_v1_PinModelRequest__Output } from './moc/v1/PinModelRequest.js';
import type { RecordFeedbackRequest as _moc_v1_RecordFeedbackRequest, RecordFeedbackRequest__Output as _moc_v1_RecordFeedbackRequest__Output } from './moc/v1/RecordFeedbackRequest.js';
import type { RegisterModelRequest as _moc_v1_RegisterModelRequest, RegisterModelRequest__Output as _moc_v1_RegisterModelRequest__Output } from './moc/v1/RegisterModelRequest.js';
import type { Reservation as _moc_v1_Reservation, Reservation__Output as _moc_v1_Reservation__Output } from './moc/v1/Reservation.js';
import type { SetAliasRequest as _moc_v1_SetAliasRequest, SetAliasRequest__Output as _moc_v1_SetAliasRequest__Output } from './moc/v1/SetAliasRequest.js';
import type { SetAliasResponse as _moc_v1_SetAliasResponse, SetAliasResponse__Output as _moc_v1_SetAliasResponse__Output } from './moc/v1/SetAliasResponse.js';
import type { SubmitJobRequest as _moc_v1_SubmitJobRequest, SubmitJobRequest__Output as _moc_v1_SubmitJobRequest__Output } from './moc/v1/SubmitJobRequest.js';
import type { TokenAlternative as _moc_v1_TokenAlternative, TokenAlternative__Output as _moc_v1_TokenAlternative__Output } from './moc/v1/TokenAlternative.js';
import type { TokenLogprob as _moc_v1_TokenLogprob, TokenLogprob__Output as _moc_v1_TokenLogprob__Output } from './moc/v1/TokenLogprob.js';
import type { Tool as _moc_v1_Tool, Tool__Output as _moc_v1_Tool__Output } from './moc/v1/Tool.js';
import type { ToolCall as _moc_v1_ToolCall, ToolCall__Output as _moc_v1_ToolCall__Output } from './moc/v1/ToolCall.js';
import type { ToolCallDelta as _moc_v1_ToolCallDelta, ToolCallDelta__Output as _moc_v1_ToolCallDelta__Output } from './moc/v1/ToolCallDelta.js';
import type { UnloadModelRequest as _moc_v1_UnloadModelRequest, UnloadModelRequest__Output as _moc_v1_UnloadModelRequest__Output } from './moc/v1/UnloadModelRequest.js';
import type { UnloadModelResponse as _moc_v1_UnloadModelResponse, UnloadModelResponse__Output as _moc_v1_UnloadModelResponse__Output } from './moc/v1/UnloadModelResponse.js';
import type { UpdateGoalRequest as _moc_v1_UpdateGoalRequest, UpdateGoalRequest__Output as _moc_v1_UpdateGoalRequest__Output } from './moc/v1/UpdateGoalRequest.js';
import type { WatchModelsRequest as _moc_v1_WatchModelsRequest, WatchModelsRequest__Output as _moc_v1_WatchModelsRequest__Output } from './moc/v1/WatchModelsRequest.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  moc: {
    v1: {
      CancelJobRequest: MessageTypeDefinition<_moc_v1_CancelJobRequest, _moc_v1_CancelJobRequest__Output>
      ChatMessage: MessageTypeDefinition<_moc_v1_ChatMessage, _moc_v1_ChatMessage__Output>
      CreateGoalRequest: MessageTypeDefinition<_moc_v1_CreateGoalRequest, _moc_v1_CreateGoalRequest__Output>
      Criterion: MessageTypeDefinition<_moc_v1_Criterion, _moc_v1_Criterion__Output>
      DeviceInfo: MessageTypeDefinition<_moc_v1_DeviceInfo, _moc_v1_DeviceInfo__Output>
      Feedback: MessageTypeDefinition<_moc_v1_Feedback, _moc_v1_Feedback__Output>
      FinishReason: EnumTypeDefinition
      FleetHost: MessageTypeDefinition<_moc_v1_FleetHost, _moc_v1_FleetHost__Output>
      GetDevicesRequest: MessageTypeDefinition<_moc_v1_GetDevicesRequest, _moc_v1_GetDevicesRequest__Output>
      GetDevicesResponse: MessageTypeDefinition<_moc_v1_GetDevicesResponse, _moc_v1_GetDevicesResponse__Output>
      GetFleetRequest: MessageTypeDefinition<_moc_v1_GetFleetRequest, _moc_v1_GetFleetRequest__Output>
      GetFleetResponse: MessageTypeDefinition<_moc_v1_GetFleetResponse, _moc_v1_GetFleetResponse__Output>
      GetGoalRequest: MessageTypeDefinition<_moc_v1_GetGoalRequest, _moc_v1_GetGoalRequest__Output>
      GetJobRequest: MessageTypeDefinition<_moc_v1_GetJobRequest, _moc_v1_GetJobRequest__Output>
      GetModelRequest: MessageTypeDefinition<_moc_v1_GetModelRequest, _moc_v1_GetModelRequest__Output>
      Goal: MessageTypeDefinition<_moc_v1_Goal, _moc_v1_Goal__Output>
      GoalAchievedBy: MessageTypeDefinition<_moc_v1_GoalAchievedBy, _moc_v1_GoalAchievedBy__Output>
      GoalState: EnumTypeDefinition
      InferChunk: MessageTypeDefinition<_moc_v1_InferChunk, _moc_v1_InferChunk__Output>
      InferRequest: MessageTypeDefinition<_moc_v1_InferRequest, _moc_v1_InferRequest__Output>
      InferResponse: MessageTypeDefinition<_moc_v1_InferResponse, _moc_v1_InferResponse__Output>
      Job: MessageTypeDefinition<_moc_v1_Job, _moc_v1_Job__Output>
      JobError: MessageTypeDefinition<_moc_v1_JobError, _moc_v1_JobError__Output>
      JobOutputs: MessageTypeDefinition<_moc_v1_JobOutputs, _moc_v1_JobOutputs__Output>
      JobProgress: MessageTypeDefinition<_moc_v1_JobProgress, _moc_v1_JobProgress__Output>
      JobState: EnumTypeDefinition
      ListGoalsRequest: MessageTypeDefinition<_moc_v1_ListGoalsRequest, _moc_v1_ListGoalsRequest__Output>
      ListGoalsResponse: MessageTypeDefinition<_moc_v1_ListGoalsResponse, _moc_v1_ListGoalsResponse__Output>
      ListJobsRequest: MessageTypeDefinition<_moc_v1_ListJobsRequest, _moc_v1_ListJobsRequest__Output>
      ListJobsResponse: MessageTypeDefinition<_moc_v1_ListJobsResponse, _moc_v1_ListJobsResponse__Output>
      ListModelsRequest: MessageTypeDefinition<_moc_v1_ListModelsRequest, _moc_v1_ListModelsRequest__Output>
      ListModelsResponse: MessageTypeDefinition<_moc_v1_ListModelsResponse, _moc_v1_ListModelsResponse__Output>
      LoadModelRequest: MessageTypeDefinition<_moc_v1_LoadModelRequest, _moc_v1_LoadModelRequest__Output>
      MemoryLedger: MessageTypeDefinition<_moc_v1_MemoryLedger, _moc_v1_MemoryLedger__Output>
      ModelInfo: MessageTypeDefinition<_moc_v1_ModelInfo, _moc_v1_ModelInfo__Output>
      ModelOps: SubtypeConstructor<typeof grpc.Client, _moc_v1_ModelOpsClient> & { service: _moc_v1_ModelOpsDefinition }
      ModelState: EnumTypeDefinition
      PinModelRequest: MessageTypeDefinition<_moc_v1_PinModelRequest, _moc_v1_PinModelRequest__Output>
      RecordFeedbackRequest: MessageTypeDefinition<_moc_v1_RecordFeedbackRequest, _moc_v1_RecordFeedbackRequest__Output>
      RegisterModelRequest: MessageTypeDefinition<_moc_v1_RegisterModelRequest, _moc_v1_RegisterModelRequest__Output>
      Reservation: MessageTypeDefinition<_moc_v1_Reservation, _moc_v1_Reservation__Output>
      SetAliasRequest: MessageTypeDefinition<_moc_v1_SetAliasRequest, _moc_v1_SetAliasRequest__Output>
      SetAliasResponse: MessageTypeDefinition<_moc_v1_SetAliasResponse, _moc_v1_SetAliasResponse__Output>
      SubmitJobRequest: MessageTypeDefinition<_moc_v1_SubmitJobRequest, _moc_v1_SubmitJobRequest__Output>
      TokenAlternative: MessageTypeDefinition<_moc_v1_TokenAlternative, _moc_v1_TokenAlternative__Output>
      TokenLogprob: MessageTypeDefinition<_moc_v1_TokenLogprob, _moc_v1_TokenLogprob__Output>
      Tool: MessageTypeDefinition<_moc_v1_Tool, _moc_v1_Tool__Output>
      ToolCall: MessageTypeDefinition<_moc_v1_ToolCall, _moc_v1_ToolCall__Output>
      ToolCallDelta: MessageTypeDefinition<_moc_v1_ToolCallDelta, _moc_v1_ToolCallDelta__Output>
      UnloadModelRequest: MessageTypeDefinition<_moc_v1_UnloadModelRequest, _moc_v1_UnloadModelRequest__Output>
      UnloadModelResponse: MessageTypeDefinition<_moc_v1_UnloadModelResponse, _moc_v1_UnloadModelResponse__Output>
      UpdateGoalRequest: MessageTypeDefinition<_moc_v1_UpdateGoalRequest, _moc_v1_UpdateGoalRequest__Output>
      WatchModelsRequest: MessageTypeDefinition<_moc_v1_WatchModelsRequest, _moc_v1_WatchModelsRequest__Output>
    }
  }
}

